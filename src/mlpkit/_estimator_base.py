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

``l1`` follows the same convention: it stands for ``l1 · Σ|W| / n`` added to
each batch's mean loss, so it becomes ``λ₁ = l1 / min(batch_size, total
weight)``, times the number of outputs for regression. ``alpha`` and ``l1``
are then on one scale, and their ratio is the ratio of the two penalties.

Beyond scikit-learn's solvers, the estimators run the engine's other step
optimizers (:mod:`mlpkit.optimizers`) and epoch-based learning-rate schedules
(:mod:`mlpkit.schedules`), and pass dropout, max-norm and maxout to the
:class:`~mlpkit.network.Network`.
"""

from __future__ import annotations

import math
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

from ._estimator_parameters import (
    ACTIVATION_ALIASES,
    ADAPTIVE_MIN_LEARNING_RATE,
    AUTO_BATCH_SIZE,
    FLOORED_SCHEDULES,
    PARAMETER_RULES,
    SEED_BOUND,
    SGD_SCHEDULES,
    STOCHASTIC_SOLVERS,
    _is_dropout_rate,
    _is_positive_int,
)
from .errors import ConvergenceWarning, DataError, ParameterError, caller_stacklevel
from .lbfgs import train_lbfgs
from .network import Network
from .optimizers import Optimizer, make_optimizer
from .schedules import (
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    LearningRateSchedule,
    ReduceOnPlateau,
    StepDecay,
)
from .settings import OPTIMIZER_SETTINGS
from .tasks import TaskSpec
from .training import History, StoppingRule, run_epoch, split_validation_rows, train



class _ContinuedSchedule:
    """Pass the training loop's schedule hooks on, counting from earlier calls.

    :func:`~mlpkit.training.train` numbers epochs from 1 and samples from 0
    on every call. A warm-started ``fit`` continues a schedule, so this adds
    the epochs and samples that earlier ``fit`` and ``partial_fit`` calls
    trained. It has the hooks of :class:`~mlpkit.schedules.LearningRateSchedule`
    that ``train`` calls, and keeps no state of its own.
    """

    def __init__(
        self, schedule: LearningRateSchedule, epochs_before: int, samples_before: int
    ):
        self.schedule = schedule
        self.per_step = schedule.per_step
        self.epochs_before = epochs_before
        self.samples_before = samples_before

    def start(self, optimizer: Optimizer) -> None:
        self.schedule.start(optimizer)

    def on_step_end(self, optimizer: Optimizer) -> None:
        self.schedule.on_step_end(optimizer)

    def on_epoch_end(
        self,
        optimizer: Optimizer,
        epoch: int,
        loss: float | None = None,
        samples_seen: int | None = None,
    ) -> float:
        if samples_seen is not None:
            samples_seen += self.samples_before
        return self.schedule.on_epoch_end(
            optimizer, self.epochs_before + epoch, loss, samples_seen=samples_seen
        )


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
        weight_decay: float = 0.01,
        rho: float | None = None,
        step_size: int = 10,
        gamma: float | None = None,
        decay_epochs: int | None = None,
        min_learning_rate: float = 0.0,
        l1: float = 0.0,
        input_dropout: float = 0.0,
        hidden_dropout: Any = 0.0,
        max_norm: float | None = None,
        maxout_pieces: int = 2,
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
        self.weight_decay = weight_decay
        self.rho = rho
        self.step_size = step_size
        self.gamma = gamma
        self.decay_epochs = decay_epochs
        self.min_learning_rate = min_learning_rate
        self.l1 = l1
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.max_norm = max_norm
        self.maxout_pieces = maxout_pieces

    # Settings

    def _check_parameters(self) -> None:
        for name, (is_valid, allowed) in PARAMETER_RULES.items():
            value = getattr(self, name)
            if not is_valid(value):
                raise ParameterError(
                    f"{name} must be {allowed}; received: {name}={value!r}"
                )
        self._check_combinations()

    def _check_combinations(self) -> None:
        """Raise ParameterError for settings that are valid alone but not together."""
        rates = self.hidden_dropout
        if not _is_dropout_rate(rates):
            n_hidden = len(self._layer_sizes(1, 1)) - 2
            if len(rates) != n_hidden:
                raise ParameterError(
                    f"hidden_dropout needs one rate per hidden layer ({n_hidden}) "
                    f"or a single rate; received: hidden_dropout={rates!r}"
                )

        if self.solver == "lbfgs":
            if self._has_dropout():
                raise ParameterError(
                    "solver='lbfgs' cannot train with dropout, because every loss "
                    "evaluation would draw new masks and change the objective; "
                    "set input_dropout and hidden_dropout to 0 or choose a "
                    f"stochastic solver; received: input_dropout="
                    f"{self.input_dropout!r}, hidden_dropout={rates!r}"
                )
            if self.max_norm is not None:
                raise ParameterError(
                    "solver='lbfgs' cannot keep weights inside a max-norm "
                    "constraint, because its line search moves them freely; set "
                    "max_norm=None or choose a stochastic solver; received: "
                    f"max_norm={self.max_norm!r}"
                )

        floored = self.learning_rate in FLOORED_SCHEDULES
        if floored and self.min_learning_rate > self.learning_rate_init:
            raise ParameterError(
                "min_learning_rate must be at most learning_rate_init="
                f"{self.learning_rate_init!r}, because learning_rate="
                f"{self.learning_rate!r} only lowers the rate; received: "
                f"min_learning_rate={self.min_learning_rate!r}"
            )

    def _has_dropout(self) -> bool:
        rates = self.hidden_dropout
        hidden_rates = [rates] if _is_dropout_rate(rates) else list(rates)
        return self.input_dropout > 0 or any(rate > 0 for rate in hidden_rates)

    def _hidden_dropout_rates(self) -> float | list[float]:
        """Return ``hidden_dropout`` in the form Network takes."""
        if _is_dropout_rate(self.hidden_dropout):
            return float(self.hidden_dropout)
        return [float(rate) for rate in self.hidden_dropout]

    def _layer_sizes(self, n_features: int, n_outputs: int) -> list[int]:
        hidden = self.hidden_layer_sizes
        if _is_positive_int(hidden):
            hidden = [hidden]
        return [n_features, *(int(units) for units in hidden), n_outputs]

    def _make_optimizer(self) -> Optimizer:
        """Create the solver's optimizer from the estimator's settings.

        Each optimizer takes the hyperparameters that
        :data:`mlpkit.settings.OPTIMIZER_SETTINGS` lists for it, as
        :class:`mlpkit.MLP` does, and ``rho=None`` keeps the optimizer's
        default. L-BFGS steps without an optimizer, so it gets an unused Adam.
        """
        # The engine's SGD rejects Nesterov without momentum. scikit-learn
        # runs plain SGD then, which takes the same steps, and so does this.
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        engine_settings = {
            "momentum": self.momentum,
            "nesterov": nesterov,
            "beta1": self.beta_1,
            "beta2": self.beta_2,
            "epsilon": self.epsilon,
            "rho": self.rho,
            "weight_decay": self.weight_decay,
        }
        name = "adam" if self.solver == "lbfgs" else self.solver
        settings = {}
        for setting in OPTIMIZER_SETTINGS[name]:
            if engine_settings[setting] is not None:
                settings[setting] = engine_settings[setting]
        return make_optimizer(name, learning_rate=self.learning_rate_init, **settings)

    def _make_schedule(self) -> LearningRateSchedule | None:
        """Return the schedule of ``learning_rate``, or None for a constant rate.

        ``"invscaling"`` and ``"adaptive"`` apply to SGD alone, as in
        scikit-learn, and the epoch schedules to every stochastic solver.
        """
        rate = self.learning_rate
        if self.solver == "lbfgs" or rate == "constant":
            return None
        if rate in SGD_SCHEDULES and self.solver != "sgd":
            return None
        if rate == "invscaling":
            return InverseScaling(self.power_t, time_step="samples")
        if rate == "adaptive":
            return ReduceOnPlateau(
                factor=0.2,
                patience=self.n_iter_no_change - 1,
                threshold=self.tol,
                threshold_mode="abs",
                min_learning_rate=self.min_learning_rate,
            )
        if rate == "cosine":
            decay_epochs = self.decay_epochs
            if decay_epochs is None:
                decay_epochs = self.max_iter
            return CosineAnnealing(int(decay_epochs), self.min_learning_rate)
        # gamma=None keeps the schedule's default: 0.1 for step, 0.99 for
        # exponential.
        gamma = {} if self.gamma is None else {"gamma": self.gamma}
        if rate == "step":
            return StepDecay(int(self.step_size), **gamma)
        return ExponentialDecay(**gamma)

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

    def _penalty_strength(
        self, penalty: float, total_weight: float, n_outputs: int
    ) -> float:
        """Return the engine's ``λ₂`` for ``alpha`` or ``λ₁`` for ``l1``.

        See the module docstring.
        """
        batch = total_weight
        if self.solver != "lbfgs" and self.batch_size != "auto":
            batch = min(int(self.batch_size), total_weight)
        elif self.solver != "lbfgs":
            batch = min(AUTO_BATCH_SIZE, total_weight)
        strength = penalty / batch
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
                "partial_fit needs a stochastic solver, one of "
                f"{', '.join(STOCHASTIC_SOLVERS)}; L-BFGS trains on all the data "
                "at once, so call fit instead"
            )
        if reset:
            self._initialize(X.shape[1], targets.shape[1], X.dtype)
        # The penalties follow the batch size of this call's data.
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        total_weight = float(total_weight)
        n_outputs = targets.shape[1]
        self.network_.l2 = self._penalty_strength(self.alpha, total_weight, n_outputs)
        self.network_.l1 = self._penalty_strength(self.l1, total_weight, n_outputs)
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
            maxout_pieces=int(self.maxout_pieces),
            input_dropout=float(self.input_dropout),
            hidden_dropout=self._hidden_dropout_rates(),
            max_norm=None if self.max_norm is None else float(self.max_norm),
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
            schedule=self._continued_schedule(),
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
                stacklevel=caller_stacklevel(),
            )

    def _continued_schedule(self) -> _ContinuedSchedule | None:
        if self.schedule_ is None:
            return None
        return _ContinuedSchedule(self.schedule_, self.n_iter_, self.t_)

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
