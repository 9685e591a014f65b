"""The Python API: :class:`MLP`, a network with its preprocessing and task.

``MLP`` takes raw tabular inputs (NumPy arrays or pandas DataFrames with
numeric and text columns), learns the preprocessing from the training rows,
infers the task from the target, trains a :class:`~mlpkit.network.Network`
and turns its outputs back into labels or values. The command line is a thin
layer over it.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .checkpoints import data_fingerprint
from .data import as_feature_array, unmasked
from .errors import (
    DataError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    TrainingDivergedError,
)
from .lbfgs import fit_lbfgs
from .metrics import task_metrics
from .model_checkpoints import read_checkpoint, write_checkpoint
from .model_io import (
    MODEL_KIND_KEY,
    check_parts_agree,
    load_model,
    model_metadata,
)
from .modelfile import load_model_file, save_model_file
from .network import Network, check_training_memory, resolve_dtype
from .optimizers import Optimizer
from .preprocessing import TabularPreprocessor
from .settings import (
    LBFGS,
    build_optimizer,
    build_schedule,
    build_target_encoder,
    check_settings,
    check_streaming_settings,
    class_labels,
    class_sample_weight,
    class_weight_pairs,
    hidden_layer_sizes,
    learning_rate_of,
    network_options,
    plain_settings,
    warn_ignored_settings,
)
from .sources import RowSource, open_source
from .streaming import check_cache_dir, prepare_streaming, train_prepared
from .tasks import TargetEncoder, as_multilabel_frame, as_target_frame
from .trace import StepTrace, output_unit_names
from .training import (
    EpochCallback,
    History,
    StopRequest,
    StoppingRule,
    TrainingProgress,
    check_callback,
    split_validation_rows,
    train,
)

logger = logging.getLogger(__name__)

#: Seeds are limited to what every random generator mlpkit seeds accepts:
#: scikit-learn's ``random_state`` takes integers in ``[0, 2**32)``.
SEED_LIMIT = 2**32


def as_feature_frame(X: Any) -> pd.DataFrame:
    """Return features as a DataFrame; array columns are named ``x0, x1, …``.

    Raises
    ------
    DataError
        If ``X`` is a SciPy sparse matrix, a list of rows of different lengths,
        or not two-dimensional, see :func:`mlpkit.data.as_feature_array`.
    """
    if isinstance(X, pd.DataFrame):
        return X
    array = as_feature_array(X)
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def training_feature_frame(X: Any, feature_names: Sequence[str]) -> pd.DataFrame:
    """Return features for a trained model as a DataFrame.

    A DataFrame is returned as it is. The columns of an array (or nested list)
    take the training column names in order, as scikit-learn's estimators read
    them.

    Raises
    ------
    DataError
        If ``X`` is not a DataFrame and its column count differs from
        training.
    """
    if isinstance(X, pd.DataFrame):
        return X
    frame = as_feature_frame(X)
    expected = list(feature_names)
    if frame.shape[1] != len(expected):
        raise DataError(
            f"expected {len(expected)} columns in X, as in training, got "
            f"{frame.shape[1]}; pass the training columns in their training order"
        )
    frame.columns = expected
    return frame


def check_seed(seed: Any) -> None:
    """Raise ParameterError unless ``seed`` is None or an integer in [0, 2**32)."""
    if seed is None:
        return
    is_integer = isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    if not is_integer or not 0 <= seed < SEED_LIMIT:
        raise ParameterError(
            "seed must be an integer in [0, 2**32) or None; received: "
            f"seed={seed!r}",
            parameter="seed",
        )


def _is_numeric_array(values: NDArray) -> bool:
    """Return whether ``values`` contains bool, integer or float values only.

    An object array passes when every element is a real number, as a pandas
    Series of mixed ints and floats may be.
    """
    if values.dtype.kind in "biuf":
        return True
    if values.dtype.kind != "O":
        return False
    return all(isinstance(value, numbers.Real) for value in values.ravel().tolist())


def _check_path(name: str, path: Any) -> None:
    """Raise ParameterError unless ``path`` is a str or an os.PathLike."""
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(
            f"{name} must be a file path, a str or an os.PathLike; received: "
            f"{name}={path!r}",
            parameter=name,
        )


class MLP:
    """A multilayer perceptron for classification and regression on tables.

    The constructor checks every setting and raises ParameterError naming the
    first invalid one. NumPy scalars are stored as Python int, float and bool,
    and whole floats such as 32.0 in integer settings as int, so that the
    model file stays plain JSON.

    Parameters
    ----------
    hidden_layers : tuple of int, default (100,)
        Units of each hidden layer, each at least 1. A single int ``n`` means
        ``(n,)``.
    activation : str, default "relu"
        Hidden activation, one of :data:`mlpkit.activations.HIDDEN_ACTIVATIONS`.
    optimizer : str, default "adam"
        sgd, adam, adamw, rmsprop, adagrad, adadelta (see
        :mod:`mlpkit.optimizers`) or lbfgs, which trains on all the training
        rows at once (:func:`mlpkit.lbfgs.train_lbfgs`) for at most
        ``max_epochs`` iterations and ignores the learning rate, batch size,
        patience and tolerance.
    learning_rate : float or None, default None
        The initial learning rate η₀, which a schedule then changes. None takes
        the optimizer's default (:data:`mlpkit.settings.DEFAULT_LEARNING_RATES`):

        ========  =====
        sgd       0.001
        adam      0.001
        adamw     0.001
        rmsprop   0.01
        adagrad   0.01
        adadelta  1.0
        ========  =====

        The model file stores the rate in use, so ``get_settings`` returns it.
    momentum : float, default 0.9
        Momentum of SGD; ignored by the other optimizers.
    nesterov : bool, default False
        Nesterov momentum for SGD.
    batch_size : int, default 32
    max_epochs : int, default 200
    patience : int, default 10
        Epochs without improvement of the validation loss before stopping.
    tolerance : float, default 1e-4
        Relative improvement that counts, see :class:`~mlpkit.training.StoppingRule`.
    validation_fraction : float, default 0.1
        Share of rows held out (stratified for classification) to monitor
        early stopping; 0 monitors the training loss instead.
    task : {"auto", "classification", "regression", "multilabel"}, default "auto"
        multilabel takes an indicator matrix (one 0/1 column per label) or one
        column of label lists, and is never inferred.
    standardize : bool, default True
        Standardize numeric inputs, and regression targets, with statistics
        from the training rows.
    dtype : {"float32", "float64"}, default "float32"
        Also as ``np.float32``, ``np.float64`` or an ``np.dtype``, stored by
        name.
    seed : int or None, default 0
        Seeds the weights, the validation split and the shuffling.
    beta1, beta2 : float, default 0.9 and 0.999
        Moment decay rates of adam and adamw.
    epsilon : float or None, default None
        ε of adam, adamw, rmsprop, adagrad and adadelta; None keeps each
        optimizer's default.
    rho : float or None, default None
        Decay rate of the squared-gradient average of rmsprop (default 0.99)
        and adadelta (default 0.9).
    weight_decay : float, default 0.01
        Decoupled weight decay of adamw, per unit of learning rate.
    learning_rate_schedule : str, default "constant"
        constant, inverse_scaling (η₀ / tᵖ by steps, ``p = power_t``), step
        (× ``gamma`` every ``step_size`` epochs), exponential (× ``gamma`` each
        epoch), cosine (to ``min_learning_rate`` over ``decay_epochs``) or
        reduce_on_plateau (× ``plateau_factor`` after more than
        ``plateau_patience`` epochs without improvement of the monitored
        loss); see :mod:`mlpkit.schedules`.
    power_t, step_size, gamma, decay_epochs, min_learning_rate, plateau_factor, plateau_patience
        Settings of the schedules, defaults 0.5, 10, None (0.1 for step, 0.99
        for exponential), None (``max_epochs``), 0.0, 0.2 and 5.
        ``min_learning_rate`` may not exceed the initial learning rate, because
        cosine and reduce_on_plateau only lower the rate towards it.
    loss : str, default "squared_error"
        Regression loss: squared_error, absolute_error, huber, poisson
        (non-negative counts, predicts ``e^ŷ``) or quantile.
    huber_delta : float, default 1.0
        Where Huber's loss turns from quadratic to linear, in standard
        deviations of a standardized target.
    quantile : float, default 0.5
        The quantile in (0, 1) that the quantile (pinball) loss predicts.
    maxout_pieces : int, default 2
        Pieces per unit of the maxout activation.
    class_weight : None, "balanced" or dict, default None
        Weight of each class in the loss, multiplied into ``sample_weight``;
        "balanced" is ``n_samples / (n_classes · count)`` as in scikit-learn.
        Multilabel targets take "balanced" only.
    l1, l2 : float, default 0.0
        L1 and L2 penalties on the weights, see :class:`~mlpkit.network.Network`.
    input_dropout : float, default 0.0
        Share of inputs dropped at random in each training batch.
    hidden_dropout : float or sequence of float, default 0.0
        Dropout rate of every hidden layer, or one rate per hidden layer.
    max_norm : float or None, default None
        Cap on the L2 norm of the weights into each unit.

    Attributes
    ----------
    network_ : Network
    preprocessor_ : TabularPreprocessor
    target_encoder_ : TargetEncoder
    task_ : {"binary", "multiclass", "regression", "multilabel"}
    classes_ : ndarray or None
        Class labels, sorted; None for regression.
    history_ : History
        Losses and metrics per epoch.
    block_split_ : BlockSplit
        Roles of the blocks of rows after :meth:`fit_stream`.
    test_scores_ : dict or None
        Loss and metrics on the test blocks after :meth:`fit_stream` with a
        ``test_fraction``; None otherwise.
    """

    def __init__(
        self,
        hidden_layers: int | tuple[int, ...] | list[int] = (100,),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float | None = None,
        momentum: float = 0.9,
        nesterov: bool = False,
        batch_size: int = 32,
        max_epochs: int = 200,
        patience: int = 10,
        tolerance: float = 1e-4,
        validation_fraction: float = 0.1,
        task: str = "auto",
        standardize: bool = True,
        dtype: str = "float32",
        seed: int | None = 0,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float | None = None,
        rho: float | None = None,
        weight_decay: float = 0.01,
        learning_rate_schedule: str = "constant",
        power_t: float = 0.5,
        step_size: int = 10,
        gamma: float | None = None,
        decay_epochs: int | None = None,
        min_learning_rate: float = 0.0,
        plateau_factor: float = 0.2,
        plateau_patience: int = 5,
        loss: str = "squared_error",
        huber_delta: float = 1.0,
        quantile: float = 0.5,
        maxout_pieces: int = 2,
        class_weight: Any = None,
        l1: float = 0.0,
        l2: float = 0.0,
        input_dropout: float = 0.0,
        hidden_dropout: float | Sequence[float] = 0.0,
        max_norm: float | None = None,
    ):
        # _validate_settings turns it into a tuple of ints.
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.tolerance = tolerance
        self.validation_fraction = validation_fraction
        self.task = task
        self.standardize = standardize
        self.dtype = dtype
        self.seed = seed
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.rho = rho
        self.weight_decay = weight_decay
        self.learning_rate_schedule = learning_rate_schedule
        self.power_t = power_t
        self.step_size = step_size
        self.gamma = gamma
        self.decay_epochs = decay_epochs
        self.min_learning_rate = min_learning_rate
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.loss = loss
        self.huber_delta = huber_delta
        self.quantile = quantile
        self.maxout_pieces = maxout_pieces
        self.class_weight = class_weight
        self.l1 = l1
        self.l2 = l2
        self.input_dropout = input_dropout
        if isinstance(hidden_dropout, Sequence) and not isinstance(hidden_dropout, str):
            hidden_dropout = tuple(hidden_dropout)
        self.hidden_dropout = hidden_dropout
        self.max_norm = max_norm
        self._validate_settings()

    def _validate_settings(self) -> None:
        for name, value in plain_settings(self).items():
            setattr(self, name, value)
        self.hidden_layers = hidden_layer_sizes(self.hidden_layers)
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ParameterError(
                "validation_fraction must be in [0, 1); received: "
                f"validation_fraction={self.validation_fraction!r}",
                parameter="validation_fraction",
            )
        check_seed(self.seed)
        if self.seed is not None:
            self.seed = int(self.seed)
        StoppingRule(self.max_epochs, self.patience, self.tolerance)
        TabularPreprocessor(standardize=self.standardize)
        check_settings(self)
        build_target_encoder(self)

    def get_settings(self) -> dict[str, Any]:
        """Return the constructor arguments as JSON-ready data.

        A file saved before a setting existed lacks its key, and loading it
        gives the setting its default, which trains as before the setting.
        A ``learning_rate`` of None is returned as the optimizer's default
        that training uses.
        """
        hidden_dropout = self.hidden_dropout
        if isinstance(hidden_dropout, tuple):
            hidden_dropout = list(hidden_dropout)
        return {
            "hidden_layers": list(self.hidden_layers),
            "activation": self.activation,
            "optimizer": self.optimizer,
            "learning_rate": learning_rate_of(self),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "tolerance": self.tolerance,
            "validation_fraction": self.validation_fraction,
            "task": self.task,
            "standardize": self.standardize,
            "dtype": self.dtype,
            "seed": self.seed,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "rho": self.rho,
            "weight_decay": self.weight_decay,
            "learning_rate_schedule": self.learning_rate_schedule,
            "power_t": self.power_t,
            "step_size": self.step_size,
            "gamma": self.gamma,
            "decay_epochs": self.decay_epochs,
            "min_learning_rate": self.min_learning_rate,
            "plateau_factor": self.plateau_factor,
            "plateau_patience": self.plateau_patience,
            "loss": self.loss,
            "huber_delta": self.huber_delta,
            "quantile": self.quantile,
            "maxout_pieces": self.maxout_pieces,
            "class_weight": class_weight_pairs(self.class_weight),
            "l1": self.l1,
            "l2": self.l2,
            "input_dropout": self.input_dropout,
            "hidden_dropout": hidden_dropout,
            "max_norm": self.max_norm,
        }

    def make_optimizer(self) -> Optimizer:
        """Create a fresh optimizer at the initial learning rate from the settings.

        With ``optimizer="lbfgs"`` it is plain SGD, the step :meth:`trace` shows.
        """
        return build_optimizer(self)

    # Training

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        source: str | None = None,
        on_epoch_end: EpochCallback | None = None,
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None,
        stop_requested: StopRequest | None = None,
    ) -> MLP:
        """Learn preprocessing, task and weights from ``X`` and ``y``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like, Series or DataFrame of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each row in the loss, as numbers (bool,
            integer or float), not text.
        source : str, optional
            File the data came from, named in error messages.
        on_epoch_end : callable, optional
            Called with each epoch's :class:`~mlpkit.training.EpochRecord`.
        checkpoint : str or path-like, optional
            File that receives a checkpoint (see :mod:`mlpkit.checkpoints`) after
            every epoch and when ``stop_requested`` ends training, replaced
            atomically each time.
        resume : str or path-like, optional
            Checkpoint to continue from instead of starting afresh. Its
            preprocessing, task and weights are kept. The settings in
            :data:`mlpkit.checkpoints.FIXED_SETTINGS` and the columns of ``X``
            and ``y`` must match the checkpoint's. With the same data and
            settings, the weights equal bit for bit those of one uninterrupted
            fit.
        stop_requested : callable, optional
            Polled after every batch. Returning True ends training after that
            batch: the checkpoint is written, the best weights are restored and
            ``history_.interrupted`` is set.

        Raises
        ------
        TrainingDivergedError
            If the loss or the weights become NaN or infinite. The model keeps
            the weights of its best epoch and ``history_`` has the completed
            epochs, so it can still be saved.
        ParameterError
            If ``on_epoch_end`` or ``stop_requested`` is neither None nor
            callable, or ``checkpoint`` or ``resume`` is neither None nor a path.
        DataError
            If ``X``, ``y`` or ``sample_weight`` is invalid, such as weights
            given as text.
        ParameterError, DataError, ModelFileError
            If ``resume`` is not a checkpoint, or its settings or columns differ
            from this fit's in a way that cannot continue.

        Warns
        -----
        CheckpointWarning
            If ``resume`` was trained on other rows, so the result will differ from
            that of an uninterrupted fit.
        IgnoredSettingWarning
            Once, for the settings changed from their defaults that the optimizer,
            schedule, loss or activation ignores, such as ``momentum`` with adam.
        """
        check_callback("on_epoch_end", on_epoch_end)
        check_callback("stop_requested", stop_requested)
        warn_ignored_settings(self)
        if checkpoint is not None:
            _check_path("checkpoint", checkpoint)
        if resume is not None:
            _check_path("resume", resume)
        if self.optimizer == LBFGS and (checkpoint is not None or resume is not None):
            raise ParameterError(
                "optimizer='lbfgs' cannot write or resume checkpoints, because "
                "L-BFGS keeps its curvature pairs inside SciPy; use a step "
                "optimizer such as adam, or train without checkpoint and resume",
                parameter="optimizer",
            )
        features = as_feature_frame(X)
        target = self._target_frame(y)
        if len(features) != len(target):
            raise DataError(
                f"X has {len(features)} rows but y has {len(target)}; they must match"
            )
        weights = self._check_sample_weight(sample_weight, len(features))
        fingerprint = data_fingerprint(features, target, weights)

        saved = state = None
        if resume is not None:
            saved, state = read_checkpoint(self, resume, features, target, fingerprint)
            self.target_encoder_ = saved.target_encoder_
        else:
            self.target_encoder_ = build_target_encoder(self)
            self.target_encoder_.fit(target, source)
        self.task_ = self.target_encoder_.task_
        self.classes_ = self.target_encoder_.classes_
        weights = class_sample_weight(
            self.class_weight,
            self.task_,
            class_labels(target, self.target_encoder_),
            weights,
        )

        train_rows, validation_rows = self._split_rows(target)
        if saved is not None:
            self.preprocessor_ = saved.preprocessor_
        else:
            self.preprocessor_ = TabularPreprocessor(standardize=self.standardize)
            self.preprocessor_.fit(features.iloc[train_rows], source=source)
        dtype = resolve_dtype(self.dtype)

        def encode(rows: NDArray) -> tuple[NDArray, NDArray]:
            inputs = self.preprocessor_.transform(
                features.iloc[rows], source=source, dtype=dtype
            )
            return inputs, self.target_encoder_.transform(target.iloc[rows], dtype)

        X_train, y_train = encode(train_rows)
        validation = encode(validation_rows) if validation_rows.size else None
        metric_target = target.iloc[validation_rows if validation else train_rows]

        def metric_function(outputs: NDArray) -> dict[str, float]:
            return task_metrics(
                self.task_, self._raw_target(metric_target), self.target_encoder_.decode(outputs)
            )

        if saved is not None:
            self.network_ = saved.network_
            if state is not None and state.dropout_state is not None:
                self.network_.set_dropout_state(state.dropout_state)
        else:
            spec = self.target_encoder_.spec
            layer_sizes = [
                X_train.shape[1],
                *self.hidden_layers,
                self.target_encoder_.n_outputs,
            ]
            batch_rows = len(X_train)
            if self.optimizer != LBFGS:
                batch_rows = min(int(self.batch_size), batch_rows)
            check_training_memory(
                layer_sizes,
                self.activation,
                spec.output_activation,
                int(self.maxout_pieces),
                dtype,
                batch_rows=batch_rows,
                parameter="hidden_layers",
            )
            self.network_ = Network(
                layer_sizes,
                activation=self.activation,
                output_activation=spec.output_activation,
                loss=spec.loss,
                dtype=dtype.name,
                seed=self.seed,
                loss_params=spec.loss_params,
                **network_options(self),
            )
        train_weights = None if weights is None else weights[train_rows]
        if self.optimizer == LBFGS:
            logger.info(
                "training %r with L-BFGS on %d rows", self.network_, len(X_train)
            )
            return fit_lbfgs(
                self,
                X_train,
                y_train,
                train_weights,
                validation,
                metric_function,
                on_epoch_end,
                stop_requested,
            )

        self.optimizer_ = self.make_optimizer()
        self.schedule_ = build_schedule(self)
        rng = np.random.default_rng(self.seed)
        progress = None
        if state is not None:
            self.optimizer_.set_state(state.optimizer_iterations, state.optimizer_state)
            if self.schedule_ is not None and state.schedule_state is not None:
                self.schedule_.set_state(state.schedule_state)
            if state.rng_state is not None:
                rng.bit_generator.state = state.rng_state
            progress = state.progress

        on_checkpoint = None
        if checkpoint is not None:

            def on_checkpoint(progress: TrainingProgress) -> None:
                write_checkpoint(self, checkpoint, progress, fingerprint)

        logger.info("training %r on %d rows", self.network_, len(train_rows))
        try:
            self.history_ = train(
                self.network_,
                self.optimizer_,
                X_train,
                y_train,
                batch_size=int(self.batch_size),
                stopping=StoppingRule(self.max_epochs, self.patience, self.tolerance),
                rng=rng,
                sample_weight=train_weights,
                validation=validation,
                metric_function=metric_function,
                on_epoch_end=on_epoch_end,
                progress=progress,
                on_checkpoint=on_checkpoint,
                stop_requested=stop_requested,
                schedule=self.schedule_,
            )
        except TrainingDivergedError as error:
            # The network has its best weights again, so the model can be saved.
            self.history_ = error.history
            raise
        return self

    def fit_stream(
        self,
        data: str | os.PathLike | RowSource,
        target: str | int | Sequence[str | int] | None = None,
        *,
        block_rows: int | None = None,
        test_fraction: float = 0.0,
        cache_dir: str | os.PathLike | None = None,
        on_epoch_end: EpochCallback | None = None,
        stop_requested: StopRequest | None = None,
    ) -> MLP:
        """Learn preprocessing, task and weights from a file read block by block.

        The file never has to fit in memory: see :mod:`mlpkit.streaming` for the
        steps. ``validation_fraction`` holds out a share of the blocks left after
        the test blocks, ``ceil(validation_fraction · (n_blocks − n_test))``
        blocks, instead of rows: of 20 blocks, ``test_fraction=0.6`` and
        ``validation_fraction=0.5`` leave 4 for training. The result is the same
        kind of model as :meth:`fit` gives.

        Parameters
        ----------
        data : str, path-like or RowSource
            A ``.npy`` file of a 2-D numeric array, or a CSV file with a header
            line (see :mod:`mlpkit.sources`), or a source already opened.
        target : str, int, sequence of them, or None
            Target columns of a path: indices for ``.npy`` (None means the last
            column), names for CSV. Ignored for a RowSource.
        block_rows : int or None, default=None
            Rows per block, see :func:`mlpkit.streaming.fit_streaming`.
        test_fraction : float, default=0.0
            Share of blocks held out and scored into ``test_scores_``.
        cache_dir : str or path-like, optional
            Existing, writable directory of the temporary encoded copy of a CSV
            file.
        on_epoch_end, stop_requested : callable, optional
            As in :meth:`fit`.

        Raises
        ------
        ParameterError
            If ``on_epoch_end`` or ``stop_requested`` is neither None nor
            callable, a setting is not supported while streaming, ``target`` is
            not a column name, an index or a list of them, or ``cache_dir`` is
            not an existing, writable directory.
        DataError
            If the file cannot be read or has invalid values.
        TrainingDivergedError
            As in :meth:`fit`; the model keeps its best epoch's weights.

        Notes
        -----
        NOTE: sample weights, checkpoints and resuming are not supported while
        streaming, and neither are L-BFGS, learning-rate schedules, class
        weights, regression losses other than squared error and the multilabel
        task: those settings raise ParameterError here.
        """
        check_callback("on_epoch_end", on_epoch_end)
        check_callback("stop_requested", stop_requested)
        check_streaming_settings(self)
        warn_ignored_settings(self)
        check_cache_dir(cache_dir)
        source = data if isinstance(data, RowSource) else open_source(data, target)
        fit = prepare_streaming(
            self, source, block_rows=block_rows, test_fraction=test_fraction
        )
        self.preprocessor_ = fit.preprocessor
        self.target_encoder_ = fit.target_encoder
        self.task_ = fit.target_encoder.task_
        self.classes_ = fit.target_encoder.classes_
        self.network_ = fit.network
        self.optimizer_ = fit.optimizer
        self.block_split_ = fit.split
        try:
            train_prepared(
                fit,
                self,
                source,
                cache_dir=cache_dir,
                on_epoch_end=on_epoch_end,
                stop_requested=stop_requested,
            )
        finally:
            # After a divergence the history has the completed epochs.
            self.history_ = fit.history
            self.test_scores_ = fit.test_scores
        return self

    @staticmethod
    def _check_sample_weight(sample_weight: Any, n_samples: int) -> NDArray | None:
        if sample_weight is None:
            return None
        weights = np.asarray(unmasked(sample_weight))
        if not _is_numeric_array(weights):
            # np.asarray(..., dtype=float) would parse text such as "1" silently.
            raise DataError(
                "sample_weight must contain numbers, one non-negative weight per "
                f"row; received: sample_weight with dtype {weights.dtype}"
            )
        weights = weights.astype(np.float64)
        if weights.shape != (n_samples,):
            raise DataError(
                f"sample_weight must have shape ({n_samples},); received "
                f"{weights.shape}"
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise DataError("sample_weight must be finite and non-negative")
        if weights.sum() <= 0:
            raise DataError("sample_weight must have a positive sum")
        return weights

    def _split_rows(self, target: pd.DataFrame) -> tuple[NDArray, NDArray]:
        """Return training and validation row positions, stratified by class."""
        fraction = float(self.validation_fraction)
        if fraction == 0.0:
            rows = np.arange(len(target))
            return rows, rows[:0]
        labels = None
        if self.task_ in ("binary", "multiclass"):
            labels = target.iloc[:, 0].to_numpy()
        return split_validation_rows(len(target), fraction, self.seed, labels)

    def _target_frame(self, y: Any) -> pd.DataFrame:
        if self.task == "multilabel":
            return as_multilabel_frame(y)
        return as_target_frame(y)

    def _raw_target(self, target: pd.DataFrame) -> NDArray:
        if self.task_ == "multilabel":
            # Indicator rows in classes_ order, whatever form the target has.
            return self.target_encoder_.transform(target, np.float64).astype(int)
        values = target.to_numpy()
        if self.task_ == "regression":
            values = values.astype(np.float64)
        return values[:, 0] if values.shape[1] == 1 else values

    # Prediction

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(
                "this MLP is not trained yet; call fit or load a model first"
            )

    def predict_outputs(self, X: Any, *, source: str | None = None) -> NDArray:
        """Return the raw network outputs ŷ, shape ``(n_samples, n_outputs)``.

        Raises
        ------
        DataError
            If ``X`` lacks a training column, or an array ``X`` has another
            number of columns than the training data.
        """
        self._check_fitted()
        X = unmasked(X)
        inputs = None
        if isinstance(X, np.ndarray):
            inputs = self.preprocessor_.transform_array(X, dtype=self.network_.dtype)
        if inputs is None:
            inputs = self.preprocessor_.transform(
                training_feature_frame(X, self.preprocessor_.feature_names_in_),
                source=source,
                dtype=self.network_.dtype,
            )
        return self.network_.forward(inputs)

    def predict(self, X: Any, *, source: str | None = None) -> NDArray:
        """Return class labels, or target values for regression."""
        outputs = self.predict_outputs(X, source=source)
        return self.target_encoder_.decode(outputs)

    def predict_proba(self, X: Any, *, source: str | None = None) -> NDArray:
        """Return class probabilities of shape ``(n_samples, n_classes)``.

        Columns follow ``classes_``. Raises ParameterError for regression.
        """
        self._check_fitted()
        if self.task_ == "regression":
            raise ParameterError("predict_proba needs a classifier; this is regression")
        return self.target_encoder_.probabilities(self.predict_outputs(X, source=source))

    def evaluate(self, X: Any, y: Any, *, source: str | None = None) -> dict[str, float]:
        """Return the loss and the task's metrics on ``(X, y)``."""
        self._check_fitted()
        target = self._target_frame(y)
        outputs = self.predict_outputs(X, source=source)
        if len(target) != len(outputs):
            raise DataError(
                f"X has {len(outputs)} rows but y has {len(target)}; they must match"
            )
        encoded = self.target_encoder_.transform(target, self.network_.dtype, source)
        loss = self.network_.loss.value(encoded, outputs)
        metrics = task_metrics(
            self.task_, self._raw_target(target), self.target_encoder_.decode(outputs)
        )
        return {"loss": loss, **metrics}

    def trace(self, X: Any, y: Any = None, *, source: str | None = None) -> StepTrace:
        """Trace one training step of the fitted network on raw rows ``X``.

        The rows go through the fitted preprocessing and ``y`` through the
        target encoding, then :meth:`Network.trace` takes one step of a fresh
        optimizer from the settings on copies, so the model is unchanged.
        Without ``y`` the trace stops after forward propagation.
        """
        self._check_fitted()
        inputs = self.preprocessor_.transform(
            training_feature_frame(X, self.preprocessor_.feature_names_in_),
            source=source,
            dtype=self.network_.dtype,
        )
        targets = None
        if y is not None:
            targets = self.target_encoder_.transform(
                as_target_frame(y), self.network_.dtype, source
            )

        output_names = output_unit_names(
            self.task_, self.target_encoder_.target_names_, self.classes_
        )
        return self.network_.trace(
            inputs,
            targets,
            self.make_optimizer(),
            input_names=self.preprocessor_.feature_names_out_,
            output_names=output_names,
        )

    # Saving

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (no pickle), atomically.

        Raises
        ------
        ParameterError
            If ``path`` is not a str or an os.PathLike.
        NotFittedError
            If the model is not trained.
        """
        _check_path("path", path)
        self._check_fitted()
        metadata = self._file_metadata(self.history_)
        save_model_file(path, metadata, self.network_.get_arrays())

    def _file_metadata(self, history: History) -> dict[str, Any]:
        target = {"target": self.target_encoder_.to_config()}
        return model_metadata(self, history, extra_sections=target)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLP:
        """Read a model written by :meth:`save`, or the latest model of a checkpoint.

        Raises
        ------
        ParameterError
            If ``path`` is not a str or an os.PathLike.
        ModelFileError
            If the file is missing, not a model file, damaged, or has parts that
            do not fit together. Loading never runs code from the file, and
            memory use is bounded by its size (see :mod:`mlpkit.modelfile`).
        """
        _check_path("path", path)
        metadata, arrays = load_model_file(path)
        return cls._from_file_contents(metadata, arrays, path)

    @classmethod
    def _from_file_contents(
        cls, metadata: dict[str, Any], arrays: dict[str, NDArray], path: Any
    ) -> MLP:
        name = str(path)
        kind = metadata.get(MODEL_KIND_KEY)
        if kind is not None:
            raise ModelFileError(
                f"model file {name!r} contains a model of kind {str(kind)[:40]!r}, "
                "not a supervised MLP; score rows with an autoencoder through "
                "'mlpkit anomalies' or Autoencoder.load"
            )

        def load_target(model: MLP, sections: dict[str, Any]) -> None:
            model.target_encoder_ = TargetEncoder.from_config(sections["target"])

        model = load_model(cls, metadata, arrays, name, ("target",), load_target)
        model.task_ = model.target_encoder_.task_
        model.classes_ = model.target_encoder_.classes_
        model._check_parts_agree(name)
        return model

    def _check_parts_agree(self, name: str) -> None:
        """Raise ModelFileError if the loaded settings, network and encoders differ."""
        network = self.network_
        spec = self.target_encoder_.spec
        expected = {
            "hidden layers": (list(self.hidden_layers), network.layer_sizes[1:-1]),
            "activation": (self.activation, network.activation),
            "dtype": (resolve_dtype(self.dtype), network.dtype),
            "inputs": (self.preprocessor_.n_features_out_, network.layer_sizes[0]),
            "outputs": (self.target_encoder_.n_outputs, network.layer_sizes[-1]),
            "output activation": (spec.output_activation, network.output_activation),
            "loss": (spec.loss, network.loss.name),
            "loss parameters": (spec.loss_params, network.loss.get_config()),
        }
        check_parts_agree(expected, name, "settings, preprocessing and task")

    def __repr__(self) -> str:
        if hasattr(self, "network_"):
            return f"MLP(task={self.task_!r}, {self.network_!r})"
        return f"MLP(hidden_layers={self.hidden_layers}, activation={self.activation!r})"
