"""The Python API: :class:`MLP`, a network with its preprocessing and task.

``MLP`` takes raw tabular inputs (NumPy arrays or pandas DataFrames with
numeric and text columns), learns the preprocessing from the training rows,
infers the task from the target, trains a :class:`~mlpkit.network.Network`
and turns its outputs back into labels or values. The command line is a thin
layer over it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import __version__
from .errors import DataError, ModelFileError, NotFittedError, ParameterError
from .metrics import task_metrics
from .modelfile import load_model_file, save_model_file
from .network import Network, resolve_dtype
from .optimizers import Optimizer, make_optimizer
from .preprocessing import TabularPreprocessor
from .tasks import TargetEncoder, as_target_frame
from .trace import StepTrace, output_unit_names
from .training import (
    EpochCallback,
    History,
    StoppingRule,
    split_validation_rows,
    train,
)

logger = logging.getLogger(__name__)


def as_feature_frame(X: Any) -> pd.DataFrame:
    """Return features as a DataFrame; array columns are named ``x0, x1, …``."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim == 1:
        raise DataError(
            f"X must be two dimensional (n_samples, n_features); received shape "
            f"{array.shape}; reshape a single feature with X.reshape(-1, 1)"
        )
    if array.ndim != 2:
        raise DataError(
            f"X must be two dimensional (n_samples, n_features); received shape "
            f"{array.shape}"
        )
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


class MLP:
    """A multilayer perceptron for classification and regression on tables.

    Parameters
    ----------
    hidden_layers : sequence of int, default (100,)
        Units of each hidden layer.
    activation : str, default "relu"
        Hidden activation: identity, sigmoid, tanh, relu or leaky_relu.
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 0.001
    momentum : float, default 0.9
        Momentum of SGD; ignored by Adam.
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
    task : {"auto", "classification", "regression"}, default "auto"
    standardize : bool, default True
        Standardize numeric inputs, and regression targets, with statistics
        from the training rows.
    dtype : {"float32", "float64"}, default "float32"
    seed : int or None, default 0
        Seeds the weights, the validation split and the shuffling.

    Attributes
    ----------
    network_ : Network
    preprocessor_ : TabularPreprocessor
    target_encoder_ : TargetEncoder
    task_ : {"binary", "multiclass", "regression"}
    classes_ : ndarray or None
        Class labels, sorted; None for regression.
    history_ : History
        Losses and metrics per epoch.
    """

    def __init__(
        self,
        hidden_layers: tuple[int, ...] | list[int] = (100,),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
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
    ):
        self.hidden_layers = tuple(int(units) for units in hidden_layers)
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
        self._validate_settings()

    def _validate_settings(self) -> None:
        if any(units < 1 for units in self.hidden_layers):
            raise ParameterError(
                "every hidden layer needs at least one unit; received: "
                f"hidden_layers={self.hidden_layers!r}"
            )
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ParameterError(
                "validation_fraction must be in [0, 1); received: "
                f"validation_fraction={self.validation_fraction!r}"
            )
        resolve_dtype(self.dtype)
        self.make_optimizer()
        StoppingRule(self.max_epochs, self.patience, self.tolerance)
        TargetEncoder(self.task)

    def get_settings(self) -> dict[str, Any]:
        """Return the constructor arguments as JSON-ready data."""
        return {
            "hidden_layers": list(self.hidden_layers),
            "activation": self.activation,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
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
        }

    def make_optimizer(self) -> Optimizer:
        """Create a fresh optimizer from the settings."""
        if self.optimizer == "sgd":
            return make_optimizer(
                "sgd",
                learning_rate=self.learning_rate,
                momentum=self.momentum,
                nesterov=self.nesterov,
            )
        return make_optimizer(self.optimizer, learning_rate=self.learning_rate)

    # Training

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        source: str | None = None,
        on_epoch_end: EpochCallback | None = None,
    ) -> MLP:
        """Learn preprocessing, task and weights from ``X`` and ``y``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like, Series or DataFrame of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each row in the loss.
        source : str, optional
            File the data came from, named in error messages.
        on_epoch_end : callable, optional
            Called with each epoch's :class:`~mlpkit.training.EpochRecord`.
        """
        features = as_feature_frame(X)
        target = as_target_frame(y)
        if len(features) != len(target):
            raise DataError(
                f"X has {len(features)} rows but y has {len(target)}; they must match"
            )
        weights = self._check_sample_weight(sample_weight, len(features))

        self.target_encoder_ = TargetEncoder(self.task, self.standardize)
        self.target_encoder_.fit(target, source)
        self.task_ = self.target_encoder_.task_
        self.classes_ = self.target_encoder_.classes_

        train_rows, validation_rows = self._split_rows(target)
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

        spec = self.target_encoder_.spec
        self.network_ = Network(
            [X_train.shape[1], *self.hidden_layers, self.target_encoder_.n_outputs],
            activation=self.activation,
            output_activation=spec.output_activation,
            loss=spec.loss,
            dtype=dtype.name,
            seed=self.seed,
        )
        self.optimizer_ = self.make_optimizer()
        logger.info("training %r on %d rows", self.network_, len(train_rows))
        self.history_ = train(
            self.network_,
            self.optimizer_,
            X_train,
            y_train,
            batch_size=int(self.batch_size),
            stopping=StoppingRule(self.max_epochs, self.patience, self.tolerance),
            rng=np.random.default_rng(self.seed),
            sample_weight=None if weights is None else weights[train_rows],
            validation=validation,
            metric_function=metric_function,
            on_epoch_end=on_epoch_end,
        )
        return self

    @staticmethod
    def _check_sample_weight(sample_weight: Any, n_samples: int) -> NDArray | None:
        if sample_weight is None:
            return None
        weights = np.asarray(sample_weight, dtype=np.float64)
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
        if self.task_ != "regression":
            labels = target.iloc[:, 0].to_numpy()
        return split_validation_rows(len(target), fraction, self.seed, labels)

    def _raw_target(self, target: pd.DataFrame) -> NDArray:
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
        """Return the raw network outputs ŷ, shape ``(n_samples, n_outputs)``."""
        self._check_fitted()
        inputs = self.preprocessor_.transform(
            as_feature_frame(X), source=source, dtype=self.network_.dtype
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
        target = as_target_frame(y)
        outputs = self.predict_outputs(X, source=source)
        if len(target) != len(outputs):
            raise DataError(
                f"X has {len(outputs)} rows but y has {len(target)}; they must match"
            )
        encoded = self.target_encoder_.transform(target, self.network_.dtype)
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
            as_feature_frame(X), source=source, dtype=self.network_.dtype
        )
        targets = None
        if y is not None:
            targets = self.target_encoder_.transform(
                as_target_frame(y), self.network_.dtype
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
        """Write the model to ``path`` (no pickle), atomically."""
        self._check_fitted()
        metadata = {
            "mlpkit_version": __version__,
            "settings": self.get_settings(),
            "network": self.network_.get_config(),
            "preprocessing": self.preprocessor_.to_config(),
            "target": self.target_encoder_.to_config(),
            "history": self.history_.to_dict(),
        }
        save_model_file(path, metadata, self.network_.get_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> MLP:
        """Read a model written by :meth:`save`."""
        metadata, arrays = load_model_file(path)
        try:
            model = cls(**metadata["settings"])
            model.network_ = Network.from_config(metadata["network"], arrays)
            model.preprocessor_ = TabularPreprocessor.from_config(
                metadata["preprocessing"]
            )
            model.target_encoder_ = TargetEncoder.from_config(metadata["target"])
            model.history_ = History.from_dict(metadata["history"])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(
                f"model file {str(path)!r} has invalid contents ({error}); "
                "save the model again"
            ) from error
        model.task_ = model.target_encoder_.task_
        model.classes_ = model.target_encoder_.classes_
        return model

    def __repr__(self) -> str:
        if hasattr(self, "network_"):
            return f"MLP(task={self.task_!r}, {self.network_!r})"
        return f"MLP(hidden_layers={self.hidden_layers}, activation={self.activation!r})"
