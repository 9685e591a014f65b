"""The shared part of the scikit-learn estimators in :mod:`mlpkit.sklearn`.

:class:`BaseMLPEstimator` checks the settings, builds a
:class:`~mlpkit.network.Network` and an optimizer, and trains them with the
engine: :func:`~mlpkit.training.train` for ``fit`` and one
:func:`~mlpkit.training.run_epoch` for each ``partial_fit`` call, or
:func:`~mlpkit.lbfgs.train_lbfgs` for ``solver="lbfgs"``. The classifier and
the regressor add how targets are encoded and scored.

scikit-learn adds ``0.5 · alpha · ‖W‖² / n`` to each batch's mean loss, where
``n`` is the batch's sample count (scikit-learn 1.9.1, ``_backprop``). The
engine's penalty ``(λ₂/2) ‖W‖²`` does not depend on the batch, so ``alpha``
becomes ``λ₂ = alpha / min(batch_size, total sample weight)``, where the total
weight is the sample count without ``sample_weight`` and L-BFGS's batch is the
whole training set. Counting weight instead of rows keeps a zero weight
equivalent to dropping the sample, and an integer weight to repeating it. For
regression ``λ₂`` is also multiplied by the number of outputs, because the
engine's squared error sums over outputs where scikit-learn's averages over
them. The penalty then weighs against the data loss as in scikit-learn.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, is_regressor
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .activations import HIDDEN_ACTIVATIONS
from .errors import ConvergenceWarning, DataError, ParameterError
from .lbfgs import train_lbfgs
from .network import Network
from .optimizers import SGD, Adam, Optimizer
from .schedules import InverseScaling, LearningRateSchedule, ReduceOnPlateau
from .tasks import TaskSpec
from .training import History, StoppingRule, run_epoch, split_validation_rows, train

#: scikit-learn's name for an activation, and the engine's name for it.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}
ACTIVATIONS = (*HIDDEN_ACTIVATIONS, *ACTIVATION_ALIASES)
SOLVERS = ("adam", "sgd", "lbfgs")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: scikit-learn's ``learning_rate="adaptive"`` stops once the rate is at most
#: this (scikit-learn 1.9.1, ``_fit_stochastic``).
ADAPTIVE_MIN_LEARNING_RATE = 1e-6
#: Rows per mini-batch for ``batch_size="auto"``, as in scikit-learn.
AUTO_BATCH_SIZE = 200
#: Seeds are drawn below this bound, which every NumPy seed accepts.
SEED_BOUND = 2**31 - 1


def _is_flag(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_flag(value) and value >= 1


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real) and not _is_flag(value) and np.isfinite(value)
    )


def _is_layer_sizes(value: Any) -> bool:
    if _is_positive_int(value):
        return True
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return False
    return all(_is_positive_int(units) for units in value)


def _in_range(low: float, high: float, *, low_open: bool, high_open: bool) -> Callable:
    def check(value: Any) -> bool:
        if not _is_real(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    return check


#: Each setting's check and the allowed values named in its error message.
PARAMETER_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden_layer_sizes": (_is_layer_sizes, "a positive integer or a sequence of them"),
    "activation": (ACTIVATIONS.__contains__, f"one of {', '.join(ACTIVATIONS)}"),
    "solver": (SOLVERS.__contains__, f"one of {', '.join(SOLVERS)}"),
    "batch_size": (
        lambda value: value == "auto" or _is_positive_int(value),
        "'auto' or a positive integer",
    ),
    "learning_rate_init": (
        _in_range(0.0, np.inf, low_open=True, high_open=True),
        "a positive number",
    ),
    "max_iter": (_is_positive_int, "a positive integer"),
    "shuffle": (_is_flag, "True or False"),
    "tol": (_in_range(0.0, 1.0, low_open=False, high_open=True), "in [0, 1)"),
    "warm_start": (_is_flag, "True or False"),
    "momentum": (_in_range(0.0, 1.0, low_open=False, high_open=False), "in [0, 1]"),
    "nesterovs_momentum": (_is_flag, "True or False"),
    "early_stopping": (_is_flag, "True or False"),
    "validation_fraction": (
        _in_range(0.0, 1.0, low_open=True, high_open=True),
        "in (0, 1)",
    ),
    "beta_1": (_in_range(0.0, 1.0, low_open=False, high_open=True), "in [0, 1)"),
    "beta_2": (_in_range(0.0, 1.0, low_open=False, high_open=True), "in [0, 1)"),
    "epsilon": (
        _in_range(0.0, np.inf, low_open=True, high_open=True),
        "a positive number",
    ),
    "n_iter_no_change": (_is_positive_int, "a positive integer"),
    "learning_rate": (LEARNING_RATES.__contains__, f"one of {', '.join(LEARNING_RATES)}"),
    "power_t": (_in_range(0.0, np.inf, low_open=False, high_open=True), "at least 0"),
    "alpha": (_in_range(0.0, np.inf, low_open=False, high_open=True), "at least 0"),
    "max_fun": (_is_positive_int, "a positive integer"),
}


class BaseMLPEstimator(BaseEstimator):
    """Settings, training and prediction shared by the classifier and regressor.

    Subclasses write ``_output_spec``, ``_encode_target``,
    ``_training_sample_weight``, ``_stratify_labels`` and ``_score_outputs``.
    Their docstrings document the parameters and attributes.
    """

    def __init__(
        self,
        hidden_layer_sizes: Any,
        activation: str,
        solver: str,
        batch_size: int | str,
        learning_rate_init: float,
        max_iter: int,
        shuffle: bool,
        random_state: Any,
        tol: float,
        warm_start: bool,
        momentum: float,
        nesterovs_momentum: bool,
        early_stopping: bool,
        validation_fraction: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        n_iter_no_change: int,
        learning_rate: str = "constant",
        power_t: float = 0.5,
        alpha: float = 0.0001,
        max_fun: int = 15000,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.alpha = alpha
        self.max_fun = max_fun

    # Settings

    def _check_parameters(self) -> None:
        for name, (is_valid, allowed) in PARAMETER_RULES.items():
            value = getattr(self, name)
            if not is_valid(value):
                raise ParameterError(
                    f"{name} must be {allowed}; received: {name}={value!r}"
                )

    def _layer_sizes(self, n_features: int, n_outputs: int) -> list[int]:
        hidden = self.hidden_layer_sizes
        if _is_positive_int(hidden):
            hidden = [hidden]
        return [n_features, *(int(units) for units in hidden), n_outputs]

    def _make_optimizer(self) -> Optimizer:
        if self.solver == "sgd":
            # The engine's SGD rejects Nesterov without momentum. scikit-learn
            # runs plain SGD then, which takes the same steps, and so does this.
            nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
            return SGD(self.learning_rate_init, self.momentum, nesterov)
        return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _make_schedule(self) -> LearningRateSchedule | None:
        """Return the schedule of ``learning_rate``, which only SGD uses."""
        if self.solver != "sgd" or self.learning_rate == "constant":
            return None
        if self.learning_rate == "invscaling":
            return InverseScaling(self.power_t, time_step="samples")
        return ReduceOnPlateau(
            factor=0.2,
            patience=self.n_iter_no_change - 1,
            threshold=self.tol,
            threshold_mode="abs",
        )

    def _stopping_patience(self) -> int:
        """Return the epochs without improvement after which ``fit`` stops.

        With ``learning_rate="adaptive"``, scikit-learn divides the rate by 5
        after ``n_iter_no_change`` epochs without improvement, and stops once
        it is at most 1e-6. The engine's stopping rule counts epochs without
        improvement instead, so it allows one plateau per division.
        NOTE: this approximates scikit-learn's rule, because an improvement
        after a division restarts the count here.
        """
        if self._make_schedule() is None or self.learning_rate != "adaptive":
            return int(self.n_iter_no_change)
        ratio = self.learning_rate_init / ADAPTIVE_MIN_LEARNING_RATE
        divisions = max(math.ceil(math.log(ratio, 5)), 0) if ratio > 1 else 0
        return int(self.n_iter_no_change) * (divisions + 1)

    def _l2_strength(self, total_weight: float, n_outputs: int) -> float:
        """Return the engine's ``λ₂`` for ``alpha``, see the module docstring."""
        batch = total_weight
        if self.solver != "lbfgs" and self.batch_size != "auto":
            batch = min(int(self.batch_size), total_weight)
        elif self.solver != "lbfgs":
            batch = min(AUTO_BATCH_SIZE, total_weight)
        strength = self.alpha / batch
        if is_regressor(self):
            strength *= n_outputs
        return float(strength)

    def _resolve_batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(AUTO_BATCH_SIZE, n_samples)
        return min(int(self.batch_size), n_samples)

    # Fitting

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMLPEstimator:
        """Train the network on ``(X, y)`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label indicator matrix for multilabel
            classification. Target values for regression.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample in the loss. None weighs every
            sample equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        classes: Any = None,
    ) -> BaseMLPEstimator:
        self._check_parameters()
        reset = not hasattr(self, "network_") or not (incremental or self.warm_start)
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=is_regressor(self),
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        y, targets = self._encode_target(
            y, reset=reset, incremental=incremental, classes=classes
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        sample_weight = self._training_sample_weight(y, sample_weight, incremental)
        if incremental and self.solver == "lbfgs":
            raise ParameterError(
                "partial_fit needs a stochastic solver, adam or sgd; L-BFGS trains "
                "on all the data at once, so call fit instead"
            )
        if reset:
            self._initialize(X.shape[1], targets.shape[1], X.dtype)
        # The penalty follows the batch size of this call's data.
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        self.network_.l2 = self._l2_strength(float(total_weight), targets.shape[1])
        targets = targets.astype(self.network_.dtype)

        if incremental:
            self._run_one_epoch(X, targets, sample_weight)
        else:
            self._train(X, y, targets, sample_weight)
        return self

    def _initialize(self, n_features: int, n_outputs: int, dtype: np.dtype) -> None:
        # fit and the first partial_fit draw the same seeds in the same order,
        # so with one random_state both start from the same weights.
        _, weight_seed, shuffle_seed = self._draw_seeds()
        spec = self._output_spec()
        self.network_ = Network(
            self._layer_sizes(n_features, n_outputs),
            activation=ACTIVATION_ALIASES.get(self.activation, self.activation),
            output_activation=spec.output_activation,
            loss=spec.loss,
            dtype=np.dtype(dtype).name,
            seed=weight_seed,
            loss_params=spec.loss_params,
        )
        self.optimizer_ = self._make_optimizer()
        self.schedule_ = self._make_schedule()
        if self.schedule_ is not None:
            self.schedule_.start(self.optimizer_)
        self._shuffle_rng = np.random.default_rng(shuffle_seed)
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(self.network_.layer_sizes)
        self.out_activation_ = spec.output_activation
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.validation_loss_curve_: list[float | None] | None = None
        self.validation_scores_: list[float | None] | None = None
        self.best_validation_loss_: float | None = None
        self.best_validation_score_: float | None = None

    def _draw_seeds(self) -> tuple[int, int, int]:
        """Draw the seeds of the validation split, the weights and the shuffling."""
        random_state = check_random_state(self.random_state)
        split_seed, weight_seed, shuffle_seed = random_state.randint(SEED_BOUND, size=3)
        return int(split_seed), int(weight_seed), int(shuffle_seed)

    def _run_one_epoch(
        self, X: NDArray, targets: NDArray, sample_weight: NDArray | None
    ) -> None:
        loss = run_epoch(
            self.network_,
            self.optimizer_,
            X,
            targets,
            sample_weight,
            self._resolve_batch_size(X.shape[0]),
            self._shuffle_rng if self.shuffle else None,
            self.schedule_,
        )
        if self.schedule_ is not None:
            self.schedule_.on_epoch_end(
                self.optimizer_,
                self.n_iter_ + 1,
                loss,
                samples_seen=self.t_ + X.shape[0],
            )
        self._record_epochs([loss], X.shape[0])

    def _train(
        self, X: NDArray, y: NDArray, targets: NDArray, sample_weight: NDArray | None
    ) -> None:
        if self.solver == "lbfgs":
            self._train_lbfgs(X, targets, sample_weight)
            return
        train_rows = np.arange(X.shape[0])
        validation = None
        metric_function = None
        if self.early_stopping:
            train_rows, validation, metric_function = self._hold_out_validation(
                X, y, targets, sample_weight
            )

        history = train(
            self.network_,
            self.optimizer_,
            X[train_rows],
            targets[train_rows],
            batch_size=self._resolve_batch_size(train_rows.size),
            stopping=StoppingRule(self.max_iter, self._stopping_patience(), self.tol),
            rng=self._shuffle_rng if self.shuffle else None,
            sample_weight=None if sample_weight is None else sample_weight[train_rows],
            validation=validation,
            metric_function=metric_function,
            restore_best=bool(self.early_stopping),
            warn_on_max_epochs=False,
            schedule=self.schedule_,
        )
        self._record_epochs(
            history.column("train_loss"),
            train_rows.size,
            validated=history if self.early_stopping else None,
        )

        if not history.converged:
            monitored = "validation loss" if self.early_stopping else "training loss"
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} before the "
                f"{monitored} stopped improving; raise max_iter, or "
                "learning_rate_init if the loss was still falling",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _train_lbfgs(
        self, X: NDArray, targets: NDArray, sample_weight: NDArray | None
    ) -> None:
        """Train with L-BFGS on every sample; ``early_stopping`` is ignored."""
        history = train_lbfgs(
            self.network_,
            X,
            targets,
            sample_weight,
            max_iterations=self.max_iter,
            gradient_tolerance=self.tol,
            max_function_evaluations=self.max_fun,
        )
        self._record_epochs(history.column("train_loss"), X.shape[0])

    def _hold_out_validation(
        self, X: NDArray, y: NDArray, targets: NDArray, sample_weight: NDArray | None
    ) -> tuple[NDArray, tuple[NDArray, ...], Callable]:
        """Split off the validation samples for early stopping.

        Returns the training rows, the ``validation`` tuple that
        :func:`~mlpkit.training.train` takes, and the function that scores
        the network outputs on the validation samples.
        """
        train_rows, validation_rows = self._split_rows(y)
        y_val = y[validation_rows]
        weight_val = None
        if sample_weight is not None:
            weight_val = sample_weight[validation_rows]
            if not weight_val.any():
                raise DataError(
                    "every validation sample has zero weight, so the validation "
                    "loss is undefined; change random_state or "
                    "validation_fraction, or give those samples weight"
                )
        validation = (X[validation_rows], targets[validation_rows], weight_val)

        def metric_function(outputs: NDArray) -> dict[str, float]:
            return {"score": self._score_outputs(outputs, y_val, weight_val)}

        return train_rows, validation, metric_function

    def _split_rows(self, y: NDArray) -> tuple[NDArray, NDArray]:
        """Return the training and validation rows, the same on every fit."""
        split_seed, _, _ = self._draw_seeds()
        return split_validation_rows(
            y.shape[0],
            self.validation_fraction,
            split_seed,
            labels=self._stratify_labels(y),
        )

    def _record_epochs(
        self, losses: list[float], n_rows: int, validated: History | None = None
    ) -> None:
        """Append the epochs' losses to the curves and counters.

        ``validated`` is the history of a fit with a validation set, whose
        validation losses and scores are appended too.
        """
        if validated is not None and self.validation_loss_curve_ is None:
            # Epochs of an earlier fit ran without a validation set.
            self.validation_loss_curve_ = [None] * len(self.loss_curve_)
            self.validation_scores_ = [None] * len(self.loss_curve_)
        self.loss_curve_.extend(losses)
        if self.validation_loss_curve_ is not None:
            if validated is None:
                missing = [None] * len(losses)
                self.validation_loss_curve_.extend(missing)
                self.validation_scores_.extend(missing)
            else:
                self.validation_loss_curve_.extend(validated.column("validation_loss"))
                self.validation_scores_.extend(validated.column("score"))
                best = validated.best
                if best is not None:
                    self.best_validation_loss_ = best.validation_loss
                    self.best_validation_score_ = best.metrics["score"]
        self.n_iter_ += len(losses)
        self.t_ += len(losses) * n_rows
        self.loss_ = losses[-1]
        self.best_loss_ = None if self.early_stopping else min(self.loss_curve_)

    # Prediction

    def _forward(self, X: Any) -> NDArray:
        """Return the network outputs ŷ of shape ``(n_samples, n_outputs_)``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return self.network_.forward(X)

    @property
    def coefs_(self) -> list[NDArray]:
        """Weight matrices, where ``coefs_[i]`` connects layer ``i`` to ``i + 1``.

        Views into ``network_.parameters``, of shape ``(n_units_in, n_units_out)``.
        """
        check_is_fitted(self)
        return [layer.weights for layer in self.network_.layers]

    @property
    def intercepts_(self) -> list[NDArray]:
        """Bias vectors, where ``intercepts_[i]`` belongs to layer ``i + 1``."""
        check_is_fitted(self)
        return [layer.biases for layer in self.network_.layers]

    # Hooks of the classifier and the regressor

    def _output_spec(self) -> TaskSpec:
        raise NotImplementedError

    def _encode_target(
        self, y: NDArray, *, reset: bool, incremental: bool, classes: Any
    ) -> tuple[NDArray, NDArray]:
        """Check ``y`` and return it with its encoding, ``(n_samples, n_outputs)``."""
        raise NotImplementedError

    def _training_sample_weight(
        self, y: NDArray, sample_weight: NDArray | None, incremental: bool
    ) -> NDArray | None:
        return sample_weight

    def _stratify_labels(self, y: NDArray) -> NDArray | None:
        return None

    def _score_outputs(
        self, outputs: NDArray, y: NDArray, sample_weight: NDArray | None
    ) -> float:
        """Return the estimator's ``score`` from network outputs."""
        raise NotImplementedError
