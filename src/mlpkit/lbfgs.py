"""Full-batch L-BFGS: training by a quasi-Newton method instead of gradient steps.

Each iteration of L-BFGS evaluates the loss ``L`` and the gradient ``∂L/∂θ`` on
every training row (forward propagation and backpropagation through
:meth:`mlpkit.network.Network.compute_gradients`), builds a search direction
from the last ``history_size`` changes of ``θ`` and of the gradient, and runs a
line search along it. There are no mini-batches, no learning rate and no
optimizer state to keep. SciPy's ``L-BFGS-B`` routine does the work, as it
does for scikit-learn's ``solver="lbfgs"``.

SciPy works in float64, so the loss and gradients go to it in float64, and
each point SciPy evaluates is copied into the network's ``parameters`` in the
network's dtype. With a float32 network the loss and the gradient carry float32
rounding (about 1e-7 relative), so tolerances far below that may not be met.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

from .errors import (
    ConvergenceWarning,
    ParameterError,
    TrainingDivergedError,
    caller_stacklevel,
)
from .network import Network
from .training import (
    EpochCallback,
    EpochRecord,
    History,
    MetricFunction,
    StopRequest,
    penalty_advice,
    silenced_float_errors,
)

if TYPE_CHECKING:
    from .model import MLP

logger = logging.getLogger(__name__)

#: SciPy's default ``ftol`` for L-BFGS-B: ``factr = 1e7`` times float64's eps.
DEFAULT_LOSS_TOLERANCE = 1e7 * np.finfo(np.float64).eps


@dataclass
class LbfgsHistory(History):
    """The :class:`~mlpkit.training.History` of an L-BFGS run.

    Each record is one L-BFGS iteration, numbered from 1 in ``epoch``, with
    the full-batch training loss at the accepted point. ``best_epoch`` is the
    last iteration, whose weights the network keeps, and ``converged`` is
    True when SciPy reported success and no stop request ended training.

    Attributes
    ----------
    n_function_evaluations : int
        Loss and gradient evaluations, line searches included.
    status : int
        SciPy's status: 0 converged, 1 reached ``max_iterations`` or
        ``max_function_evaluations``, 2 stopped for another reason (a line
        search that failed, or a stop request).
    message : str
        SciPy's description of why it stopped.
    """

    n_function_evaluations: int = 0
    status: int = 0
    message: str = ""


def train_lbfgs(
    network: Network,
    X: NDArray,
    y: NDArray,
    sample_weight: NDArray | None = None,
    *,
    max_iterations: int = 200,
    gradient_tolerance: float = 1e-4,
    loss_tolerance: float = DEFAULT_LOSS_TOLERANCE,
    max_function_evaluations: int = 15000,
    history_size: int = 10,
    validation: tuple[NDArray, ...] | None = None,
    metric_function: MetricFunction | None = None,
    on_iteration: EpochCallback | None = None,
    stop_requested: StopRequest | None = None,
    warn_if_not_converged: bool = True,
) -> LbfgsHistory:
    """Train ``network`` on the whole of ``(X, y)`` with L-BFGS; return the history.

    Parameters
    ----------
    network : Network
        Trained in place, from its current weights.
    X, y : ndarray of shape (n_samples, n_features) and (n_samples, n_outputs)
        Encoded training inputs and targets.
    sample_weight : ndarray of shape (n_samples,), optional
        Weight of each training row in the loss.
    max_iterations : int, default 200
        Cap on L-BFGS iterations (SciPy's ``maxiter``). Each iteration
        evaluates the loss one or more times.
    gradient_tolerance : float, default 1e-4
        Convergence when every component of ``∂L/∂θ`` is at most this in
        absolute value (SciPy's ``gtol``). scikit-learn passes its ``tol``
        here for ``solver="lbfgs"``.
    loss_tolerance : float, default 2.22e-9
        Convergence when an iteration lowers the loss by at most this,
        relative to ``max(|L|, 1)`` (SciPy's ``ftol``, at SciPy's default).
    max_function_evaluations : int, default 15000
        Cap on loss evaluations (SciPy's ``maxfun``, scikit-learn's
        ``max_fun``). SciPy checks it only between iterations.
    history_size : int, default 10
        Pairs of past changes that approximate the curvature (SciPy's
        ``maxcor``).
    validation : (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
        Held-out rows whose loss is recorded after every iteration. It does
        not stop training.
    metric_function : callable, optional
        Receives the predictions for the validation rows (or the training
        rows without validation) after every iteration and returns metrics.
    on_iteration : callable, optional
        Called with each iteration's :class:`~mlpkit.training.EpochRecord`.
    stop_requested : callable, optional
        Polled after every iteration. When it returns True, training ends
        with the current weights and ``History.interrupted`` set.
    warn_if_not_converged : bool, default True
        Whether to issue a ConvergenceWarning when SciPy did not report
        convergence.

    Raises
    ------
    ParameterError
        If a cap is below 1 or a tolerance is negative, or if the network uses
        dropout or max-norm. L-BFGS needs an objective that is the same at
        every evaluation, and its line search does not keep weights inside a
        constraint. The L2 penalty suits L-BFGS. The L1 penalty is accepted,
        but its gradient jumps where a weight crosses 0, which a quasi-Newton
        method does not assume, so convergence can be slow or stop early.
    TrainingDivergedError
        If the loss or the weights end NaN or infinite. The network then has
        its initial weights back.
    """
    _check_network(network)
    _check_settings(
        max_iterations,
        gradient_tolerance,
        loss_tolerance,
        max_function_evaluations,
        history_size,
    )
    dtype = network.dtype
    X = np.asarray(X, dtype=dtype)
    y = np.asarray(y, dtype=dtype)
    if sample_weight is not None:
        sample_weight = network.sample_weight_in_dtype(sample_weight)
    initial_parameters = network.parameters.copy()

    def loss_and_gradient(theta: NDArray) -> tuple[float, NDArray]:
        network.parameters[...] = theta
        # The line search steps back from an infinite loss, and _finish
        # reports a final loss or weight that is not finite.
        with silenced_float_errors():
            loss, gradients = network.compute_gradients(X, y, sample_weight)
        # astype copies, and SciPy keeps the array while the buffer is reused.
        return float(loss), gradients.astype(np.float64)

    history = LbfgsHistory(monitor="validation_loss" if validation else "train_loss")

    def record_iteration(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        network.parameters[...] = intermediate_result.x
        metric_inputs = X if validation is None else validation[0]
        record = _iteration_record(
            network,
            history.epochs + 1,
            float(intermediate_result.fun),
            validation,
            metric_function,
            metric_inputs,
        )
        history.records.append(record)
        if on_iteration is not None:
            on_iteration(record)
        if stop_requested is not None and stop_requested():
            history.interrupted = True
            raise StopIteration

    result = scipy.optimize.minimize(
        loss_and_gradient,
        initial_parameters.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=record_iteration,
        options={
            "maxiter": int(max_iterations),
            "maxfun": int(max_function_evaluations),
            "gtol": float(gradient_tolerance),
            "ftol": float(loss_tolerance),
            "maxcor": int(history_size),
        },
    )

    _finish(network, history, result, initial_parameters)
    if warn_if_not_converged and not (history.converged or history.interrupted):
        _warn_not_converged(history, max_iterations, gradient_tolerance)
    logger.info(
        "L-BFGS ran %d iterations and %d loss evaluations: %s",
        history.epochs,
        history.n_function_evaluations,
        history.message,
    )
    return history


def fit_lbfgs(
    model: MLP,
    X_train: NDArray,
    y_train: NDArray,
    sample_weight: NDArray | None,
    validation: tuple[NDArray, NDArray] | None,
    metric_function: MetricFunction | None,
    on_epoch_end: EpochCallback | None,
    stop_requested: StopRequest | None,
) -> MLP:
    """Train ``model.network_`` with :func:`train_lbfgs` and set ``history_``.

    Each iteration is one record of ``history_``, at most ``model.max_epochs``.
    L-BFGS has no step optimizer or schedule, so ``optimizer_`` and
    ``schedule_`` become None.

    Raises
    ------
    TrainingDivergedError
        As :func:`train_lbfgs`, after ``history_`` is set to the error's history.
    """
    model.optimizer_ = None
    model.schedule_ = None
    try:
        model.history_ = train_lbfgs(
            model.network_,
            X_train,
            y_train,
            sample_weight,
            max_iterations=int(model.max_epochs),
            validation=validation,
            metric_function=metric_function,
            on_iteration=on_epoch_end,
            stop_requested=stop_requested,
        )
    except TrainingDivergedError as error:
        model.history_ = error.history
        raise
    return model


def _finish(
    network: Network,
    history: LbfgsHistory,
    result: scipy.optimize.OptimizeResult,
    initial_parameters: NDArray,
) -> None:
    """Copy SciPy's final point into the network and its outcome into ``history``."""
    if not (math.isfinite(result.fun) and np.isfinite(result.x).all()):
        network.parameters[...] = initial_parameters
        advice = penalty_advice(network) or (
            "Check that the inputs and targets are standardized and finite."
        )
        raise TrainingDivergedError(
            f"L-BFGS diverged: the loss became {result.fun} after {result.nit} "
            f"iterations. {advice} The network keeps its initial weights",
            epoch=None,
            batch=1,
            history=history,
        )
    network.parameters[...] = result.x
    history.best_epoch = history.epochs
    history.status = int(result.status)
    history.message = str(result.message)
    history.n_function_evaluations = int(result.nfev)
    history.converged = result.status == 0 and not history.interrupted


def _check_network(network: Network) -> None:
    if network.has_dropout:
        raise ParameterError(
            "L-BFGS cannot train a network with dropout, because each evaluation "
            "would draw new masks and change the objective; received: "
            f"input_dropout={network.input_dropout!r}, "
            f"hidden_dropout={network.hidden_dropout!r}. Set both to 0 or use a "
            "gradient-descent optimizer"
        )
    if network.max_norm is not None:
        raise ParameterError(
            "L-BFGS cannot train a network with a max-norm constraint; received: "
            f"max_norm={network.max_norm!r}. Set max_norm to None or use a "
            "gradient-descent optimizer"
        )


def _check_settings(
    max_iterations: int,
    gradient_tolerance: float,
    loss_tolerance: float,
    max_function_evaluations: int,
    history_size: int,
) -> None:
    counts = {
        "max_iterations": max_iterations,
        "max_function_evaluations": max_function_evaluations,
        "history_size": history_size,
    }
    for name, value in counts.items():
        is_integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not (is_integer and value >= 1):
            raise ParameterError(
                f"{name} must be an integer of at least 1; received: {name}={value!r}"
            )
    tolerances = {
        "gradient_tolerance": gradient_tolerance,
        "loss_tolerance": loss_tolerance,
    }
    for name, value in tolerances.items():
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (is_number and math.isfinite(value) and value >= 0.0):
            raise ParameterError(
                f"{name} must be a finite number of at least 0; "
                f"received: {name}={value!r}"
            )


def _iteration_record(
    network: Network,
    iteration: int,
    train_loss: float,
    validation: tuple[NDArray, ...] | None,
    metric_function: MetricFunction | None,
    metric_inputs: NDArray,
) -> EpochRecord:
    validation_loss = None
    if validation is not None:
        validation_loss = network.loss_value(*validation)
    metrics: dict[str, Any] = {}
    if metric_function is not None:
        metrics = metric_function(network.forward(metric_inputs))
    return EpochRecord(iteration, train_loss, validation_loss, metrics)


def _warn_not_converged(
    history: LbfgsHistory, max_iterations: int, gradient_tolerance: float
) -> None:
    if history.status == 1:
        advice = (
            f"it reached max_iterations={max_iterations} or the cap on loss "
            "evaluations; raise max_iterations if the loss was still falling"
        )
    else:
        advice = (
            f"SciPy stopped early with the message {history.message!r}. When a "
            "line search finds no lower loss, training in float64 may get further, "
            "because float32 rounding hides small decreases"
        )
    message = (
        f"L-BFGS did not converge in {history.epochs} iterations (the gradient "
        f"stayed above gradient_tolerance={gradient_tolerance:g}): {advice}"
    )
    warnings.warn(message, ConvergenceWarning, stacklevel=caller_stacklevel())
