"""An autoencoder for tabular data, and anomaly scores from its reconstruction error.

An autoencoder is a network trained to output its own input. Its hidden layers
narrow to a bottleneck of fewer units than inputs, so it can only learn to
reconstruct rows that follow the patterns most training rows share. A row that
breaks them, such as a value that does not fit the row's other values, comes
back with a large error, which makes the reconstruction error an anomaly score.

:class:`Autoencoder` uses the engine that :class:`~mlpkit.model.MLP` uses: a
:class:`~mlpkit.preprocessing.TabularPreprocessor` turns the raw columns into
the input matrix ``x`` (imputed, standardized, one-hot encoded), a
:class:`~mlpkit.network.Network` with an identity output and the squared error
loss learns ``x̂ ≈ x``, and :func:`mlpkit.training.train` runs the epochs with
early stopping on held-out validation rows.

Model files share the format of MLP files (:mod:`mlpkit.modelfile`), and the
metadata key ``"kind"`` set to ``"autoencoder"`` distinguishes the two.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .activations import get_activation
from .errors import (
    ModelFileError,
    NotFittedError,
    ParameterError,
    TrainingDivergedError,
)
from .importance import input_columns
from .model import as_feature_frame, check_seed, training_feature_frame
from .model_io import (
    MODEL_KIND_KEY,
    check_parts_agree,
    load_model,
    model_metadata,
)
from .modelfile import load_model_file, save_model_file
from .network import Network, resolve_dtype
from .optimizers import Optimizer, make_optimizer
from .preprocessing import TabularPreprocessor
from .settings import (
    hidden_layer_sizes,
    learning_rate_of,
    plain_settings,
    warn_ignored_settings,
)
from .training import (
    EpochCallback,
    StoppingRule,
    StopRequest,
    split_validation_rows,
    train,
)

logger = logging.getLogger(__name__)

AUTOENCODER_KIND = "autoencoder"
"""Value of ``MODEL_KIND_KEY`` in an autoencoder's model file; MLP files have none."""

OUTPUT_ACTIVATION = "identity"
LOSS = "squared_error"


def default_hidden_layers(n_inputs: int) -> tuple[int, int, int]:
    """Return the default hidden layers ``(h, b, h)`` for ``n_inputs`` network inputs.

    ``h = max(2, n_inputs // 2)`` and the bottleneck ``b = max(1, h // 2)``, so
    8 inputs give ``(4, 2, 4)`` and 64 give ``(32, 16, 32)``. The bottleneck is
    narrower than the inputs whenever there are at least two of them.
    """
    outer = max(2, n_inputs // 2)
    return (outer, max(1, outer // 2), outer)


class Autoencoder:
    """A network that learns to reconstruct its preprocessed inputs.

    Parameters
    ----------
    hidden_layers : tuple of int, int or None, default None
        Units of each hidden layer, at least one layer of at least one unit; a
        single int ``n`` means ``(n,)``. None picks :func:`default_hidden_layers`
        from the number of inputs after preprocessing, once ``fit`` has them.
    activation : str, default "tanh"
        Hidden activation, one of :data:`mlpkit.activations.HIDDEN_ACTIVATIONS`.
    optimizer : str, default "adam"
        One of :data:`mlpkit.optimizers.OPTIMIZERS`.
    learning_rate : float or None, default None
        None takes the optimizer's default, as in :class:`~mlpkit.model.MLP`
        (:data:`mlpkit.settings.DEFAULT_LEARNING_RATES`).
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
        Share of rows held out to monitor early stopping; 0 monitors the
        training loss instead.
    standardize : bool, default True
        Standardize numeric inputs with statistics from the training rows. Off,
        columns with large values dominate the reconstruction error.
    dtype : {"float32", "float64"}, default "float32"
    seed : int or None, default 0
        Seeds the weights, the validation split and the shuffling.

    Attributes
    ----------
    network_ : Network
        Layers ``(n_inputs, *hidden_layers, n_inputs)``, identity output,
        squared error loss.
    preprocessor_ : TabularPreprocessor
    history_ : History
        Losses per epoch; the loss is ``½ Σₖ (x̂ₖ − xₖ)²`` per row.

    Raises
    ------
    ParameterError
        From the constructor, for an invalid setting.
    """

    def __init__(
        self,
        hidden_layers: int | Sequence[int] | None = None,
        activation: str = "tanh",
        optimizer: str = "adam",
        learning_rate: float | None = None,
        momentum: float = 0.9,
        nesterov: bool = False,
        batch_size: int = 32,
        max_epochs: int = 200,
        patience: int = 10,
        tolerance: float = 1e-4,
        validation_fraction: float = 0.1,
        standardize: bool = True,
        dtype: str = "float32",
        seed: int | None = 0,
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
        self.standardize = standardize
        self.dtype = dtype
        self.seed = seed
        self._validate_settings()

    def _validate_settings(self) -> None:
        for name, value in plain_settings(self).items():
            setattr(self, name, value)
        check_seed(self.seed)
        if self.seed is not None:
            self.seed = int(self.seed)
        if self.hidden_layers is not None:
            self.hidden_layers = hidden_layer_sizes(self.hidden_layers)
            if not self.hidden_layers:
                raise ParameterError(
                    "an autoencoder needs at least one hidden layer; received: "
                    "hidden_layers=()",
                    parameter="hidden_layers",
                )
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ParameterError(
                "validation_fraction must be in [0, 1); received: "
                f"validation_fraction={self.validation_fraction!r}",
                parameter="validation_fraction",
            )
        resolve_dtype(self.dtype)
        self.make_optimizer()
        StoppingRule(self.max_epochs, self.patience, self.tolerance)
        TabularPreprocessor(standardize=self.standardize)
        get_activation(self.activation, hidden=True)

    def get_settings(self) -> dict[str, Any]:
        """Return the constructor arguments as JSON-ready data.

        A ``learning_rate`` of None is returned as the optimizer's default.
        """
        hidden_layers = None
        if self.hidden_layers is not None:
            hidden_layers = list(self.hidden_layers)
        return {
            "hidden_layers": hidden_layers,
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
            "standardize": self.standardize,
            "dtype": self.dtype,
            "seed": self.seed,
        }

    def make_optimizer(self) -> Optimizer:
        """Create a fresh optimizer from the settings."""
        learning_rate = learning_rate_of(self)
        if self.optimizer == "sgd":
            return make_optimizer(
                "sgd",
                learning_rate=learning_rate,
                momentum=self.momentum,
                nesterov=self.nesterov,
            )
        return make_optimizer(self.optimizer, learning_rate=learning_rate)

    # Training

    def fit(
        self,
        X: Any,
        *,
        source: str | None = None,
        on_epoch_end: EpochCallback | None = None,
        stop_requested: StopRequest | None = None,
    ) -> Autoencoder:
        """Learn the preprocessing and the weights that reconstruct the rows of ``X``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Raw rows, numeric and text columns, without a target.
        source : str, optional
            File the data came from, named in error messages.
        on_epoch_end : callable, optional
            Called with each epoch's :class:`~mlpkit.history.EpochRecord`.
        stop_requested : callable, optional
            Polled after every batch; True ends training after that batch with
            the best weights restored and ``history_.interrupted`` set.

        Raises
        ------
        DataError
            If ``X`` is invalid, or has too few rows to hold out
            ``validation_fraction``.
        TrainingDivergedError
            If the loss or the weights become NaN or infinite. The model keeps
            the weights of its best epoch and ``history_`` has the completed
            epochs, so it can still be saved.

        Warns
        -----
        IgnoredSettingWarning
            Once, for the settings changed from their defaults that the optimizer
            ignores, such as ``momentum`` with adam.
        """
        warn_ignored_settings(self)
        features = as_feature_frame(X)
        dtype = resolve_dtype(self.dtype)
        fraction = float(self.validation_fraction)
        if fraction > 0.0:
            train_rows, validation_rows = split_validation_rows(
                len(features), fraction, self.seed
            )
        else:
            train_rows = np.arange(len(features))
            validation_rows = train_rows[:0]

        self.preprocessor_ = TabularPreprocessor(standardize=self.standardize)
        self.preprocessor_.fit(features.iloc[train_rows], source=source)
        inputs = self.preprocessor_.transform(features, source=source, dtype=dtype)
        X_train = inputs[train_rows]
        # The targets are the inputs themselves.
        validation = None
        if validation_rows.size:
            validation = (inputs[validation_rows], inputs[validation_rows])

        n_inputs = X_train.shape[1]
        hidden_layers = self.hidden_layers
        if hidden_layers is None:
            hidden_layers = default_hidden_layers(n_inputs)
        self.network_ = Network(
            [n_inputs, *hidden_layers, n_inputs],
            activation=self.activation,
            output_activation=OUTPUT_ACTIVATION,
            loss=LOSS,
            dtype=dtype.name,
            seed=self.seed,
        )
        self.optimizer_ = self.make_optimizer()

        logger.info(
            "training autoencoder %r on %d rows", self.network_, X_train.shape[0]
        )
        try:
            self.history_ = train(
                self.network_,
                self.optimizer_,
                X_train,
                X_train,
                batch_size=int(self.batch_size),
                stopping=StoppingRule(self.max_epochs, self.patience, self.tolerance),
                rng=np.random.default_rng(self.seed),
                validation=validation,
                on_epoch_end=on_epoch_end,
                stop_requested=stop_requested,
            )
        except TrainingDivergedError as error:
            # The network has its best weights again, so the model can be saved.
            self.history_ = error.history
            raise
        return self

    # Scoring

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(
                "this Autoencoder is not trained yet; call fit or load a model first"
            )

    def transform_inputs(self, X: Any, *, source: str | None = None) -> NDArray:
        """Return the preprocessed rows ``x``, shape ``(n_samples, n_inputs)``."""
        self._check_fitted()
        return self.preprocessor_.transform(
            training_feature_frame(X, self.preprocessor_.feature_names_in_),
            source=source,
            dtype=self.network_.dtype,
        )

    def reconstruct(self, X: Any, *, source: str | None = None) -> NDArray:
        """Return the reconstructions ``x̂`` of the preprocessed rows.

        The result has shape ``(n_samples, n_inputs)`` and is on the scale of
        :meth:`transform_inputs`: standardized numbers and one-hot columns.
        """
        return self.network_.forward(self.transform_inputs(X, source=source))

    def reconstruction_error(self, X: Any, *, source: str | None = None) -> NDArray:
        """Return each row's mean squared reconstruction error, shape ``(n_samples,)``.

        ``eᵢ = (1/m) Σₖ (x̂ᵢₖ − xᵢₖ)²`` over the ``m`` preprocessed inputs, in
        float64. It equals ``2 lᵢ / m`` for the training loss ``lᵢ`` of the row,
        and is 0 for a perfect reconstruction.

        Raises
        ------
        NotFittedError
            If the model is not trained or loaded.
        DataError
            If ``X`` lacks a training column or has invalid values.
        """
        return self._squared_residuals(X, source).mean(axis=1)

    def column_errors(self, X: Any, *, source: str | None = None) -> pd.DataFrame:
        """Split each row's reconstruction error among the raw columns.

        Column ``c`` gets ``(1/m) Σₖ (x̂ᵢₖ − xᵢₖ)²`` over its own inputs ``k``
        (one for a numeric column, one per category for a categorical one), so
        each row sums to its :meth:`reconstruction_error`. The largest entry
        names the column that the row's anomaly score comes from most.

        Returns
        -------
        DataFrame of shape (n_samples, n_columns)
            One column per raw training column, in training order.
        """
        squared = self._squared_residuals(X, source) / self.network_.layer_sizes[0]
        owners = np.array(input_columns(self.preprocessor_), dtype=object)
        errors = {}
        for name in self.preprocessor_.feature_names_in_:
            errors[name] = squared[:, owners == name].sum(axis=1)
        return pd.DataFrame(errors)

    def _squared_residuals(self, X: Any, source: str | None) -> NDArray:
        """Return ``(x̂ − x)²`` in float64, shape ``(n_samples, n_inputs)``."""
        inputs = self.transform_inputs(X, source=source)
        outputs = self.network_.forward(inputs)
        residual = outputs.astype(np.float64) - inputs.astype(np.float64)
        return residual**2

    def rank_anomalies(
        self, X: Any, top: int | None = None, *, source: str | None = None
    ) -> pd.DataFrame:
        """Return the rows of ``X`` ordered from the largest reconstruction error down.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        top : int or None, default None
            Keep only this many rows; None keeps all.
        source : str, optional
            File the data came from, named in error messages.

        Returns
        -------
        DataFrame
            Columns ``row`` (position in ``X``, from 0) and
            ``reconstruction_error``. Equal errors keep the order of ``X``.
        """
        if top is not None and (isinstance(top, bool) or int(top) < 1):
            raise ParameterError(f"top must be at least 1; received: top={top!r}")
        errors = self.reconstruction_error(X, source=source)
        order = np.argsort(-errors, kind="stable")
        if top is not None:
            order = order[: int(top)]
        return pd.DataFrame({"row": order, "reconstruction_error": errors[order]})

    # Saving

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (no pickle), atomically."""
        self._check_fitted()
        metadata = model_metadata(self, self.history_, kind=AUTOENCODER_KIND)
        save_model_file(path, metadata, self.network_.get_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Autoencoder:
        """Read an autoencoder written by :meth:`save`.

        Raises
        ------
        ModelFileError
            If the file is missing, damaged, contains a supervised MLP or another
            kind of model, or has parts that do not fit together.
        """
        name = str(path)
        metadata, arrays = load_model_file(path)
        check_autoencoder_kind(metadata, name)

        model = load_model(cls, metadata, arrays, name)
        model._check_parts_agree(name)
        return model

    def _check_parts_agree(self, name: str) -> None:
        """Raise ModelFileError if settings, network and preprocessing disagree."""
        network = self.network_
        n_inputs = self.preprocessor_.n_features_out_
        expected = {
            "activation": (self.activation, network.activation),
            "dtype": (resolve_dtype(self.dtype), network.dtype),
            "inputs": (n_inputs, network.layer_sizes[0]),
            "outputs": (n_inputs, network.layer_sizes[-1]),
            "output activation": (OUTPUT_ACTIVATION, network.output_activation),
            "loss": (LOSS, network.loss.name),
        }
        if self.hidden_layers is not None:
            expected["hidden layers"] = (
                list(self.hidden_layers),
                network.layer_sizes[1:-1],
            )
        check_parts_agree(expected, name, "settings and preprocessing")

    def __repr__(self) -> str:
        if hasattr(self, "network_"):
            return f"Autoencoder({self.network_!r})"
        hidden = "default" if self.hidden_layers is None else self.hidden_layers
        return f"Autoencoder(hidden_layers={hidden}, activation={self.activation!r})"


def check_autoencoder_kind(metadata: dict[str, Any], name: str) -> None:
    """Raise ModelFileError unless model file ``name`` contains an autoencoder."""
    kind = metadata.get(MODEL_KIND_KEY)
    if kind == AUTOENCODER_KIND:
        return
    if kind is None:
        raise ModelFileError(
            f"model file {name!r} contains a supervised MLP, not an autoencoder; load "
            "it with MLP.load, or train an autoencoder with 'mlpkit train "
            "--autoencoder'"
        )
    raise ModelFileError(
        f"model file {name!r} contains a model of kind {str(kind)[:40]!r}, not an "
        "autoencoder; this mlpkit cannot read it as one"
    )
