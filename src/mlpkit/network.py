"""The network: dense layers over one flat parameter buffer, and its loss.

:class:`Network` ties the five steps together for one batch: it initializes
weights (:mod:`mlpkit.initializers`), runs forward propagation through its
layers (:mod:`mlpkit.layers`), measures the error (:mod:`mlpkit.losses`) and
backpropagates it (:mod:`mlpkit.backprop`). An optimizer
(:mod:`mlpkit.optimizers`) then updates ``parameters`` from ``gradients``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .activations import DEFAULT_MAXOUT_PIECES, check_maxout_pieces
from .backprop import backpropagate
from .errors import ParameterError
from .initializers import initialize_weights
from .layers import Dense
from .losses import Loss, get_loss
from .optimizers import Optimizer
from .trace import DEFAULT_LEARNING_RATE, StepTrace, trace_step

DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype: Any) -> np.dtype:
    """Return the NumPy dtype for ``"float32"``/``"float64"`` (or the types)."""
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise ParameterError(
            f"dtype must be float32 or float64; received: dtype={dtype!r}"
        )
    return np.dtype(DTYPES[name])


class Network:
    """A multilayer perceptron with its loss.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, inputs first: ``(n_features, h₁, …, n_outputs)``.
    activation : str
        Activation of every hidden layer.
    output_activation : str
        Activation of the output layer.
    loss : str
        Name of the loss, see :mod:`mlpkit.losses`.
    dtype : {"float32", "float64"}
        Precision of parameters, gradients and computations.
    seed : int or None
        Seed of the generator that draws the initial weights.
    loss_params : mapping of str to float, optional
        Parameters of the loss, such as ``{"delta": 2.0}`` for ``"huber"`` or
        ``{"quantile": 0.9}`` for ``"quantile"``; see
        :func:`mlpkit.losses.get_loss`. Left out, each keeps its default.
    maxout_pieces : int, default 2
        Pieces per unit of the layers whose activation is ``"maxout"``, at
        least 2; unused by other activations.

    Attributes
    ----------
    layers : list of Dense
        Hidden layers then the output layer.
    parameters : ndarray of shape (n_parameters,)
        Every weight and bias, layer after layer, each layer's weights row by
        row followed by its biases. Layers hold views into it.
    gradients : ndarray of shape (n_parameters,)
        ``∂L/∂θ`` from the last backward pass, laid out like ``parameters``.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "identity",
        loss: str = "squared_error",
        dtype: str = "float32",
        seed: int | None = None,
        *,
        loss_params: Mapping[str, float] | None = None,
        maxout_pieces: int = DEFAULT_MAXOUT_PIECES,
    ):
        sizes = [int(size) for size in layer_sizes]
        if len(sizes) < 2 or any(size < 1 for size in sizes):
            raise ParameterError(
                "layer_sizes needs at least an input and an output size, each at "
                f"least 1; received: layer_sizes={list(layer_sizes)!r}"
            )
        self.layer_sizes = sizes
        self.activation = activation
        self.output_activation = output_activation
        self.maxout_pieces = check_maxout_pieces(maxout_pieces)
        self.loss: Loss = get_loss(loss, **_checked_loss_params(loss_params))
        self.dtype = resolve_dtype(dtype)

        last = len(sizes) - 2
        self.layers = [
            Dense(
                sizes[i],
                sizes[i + 1],
                output_activation if i == last else activation,
                hidden=i < last,
                maxout_pieces=self.maxout_pieces,
            )
            for i in range(len(sizes) - 1)
        ]
        n_parameters = sum(layer.parameter_count for layer in self.layers)
        self.parameters = np.zeros(n_parameters, dtype=self.dtype)
        self.gradients = np.zeros(n_parameters, dtype=self.dtype)
        offset = 0
        for layer in self.layers:
            end = offset + layer.parameter_count
            layer.bind(self.parameters[offset:end], self.gradients[offset:end])
            offset = end
        self.initialize(seed)

    def initialize(self, seed: int | None) -> None:
        """Draw new weights from ``seed`` and set every bias to zero."""
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            n_in, width = layer.weights.shape
            layer.weights[...] = initialize_weights(
                n_in, width, layer.activation.name, rng
            )
            layer.biases[...] = 0.0

    @property
    def n_parameters(self) -> int:
        return self.parameters.size

    def forward(self, X: NDArray) -> NDArray:
        """Propagate ``X`` (n_samples, n_features) forward; return ŷ (n_samples, n_outputs)."""
        activation = np.asarray(X, dtype=self.dtype)
        for layer in self.layers:
            activation = layer.forward(activation)
        return activation

    def backward(
        self, y_true: NDArray, sample_weight: NDArray | None = None
    ) -> NDArray:
        """Backpropagate the loss of the last forward pass; return ``gradients``.

        ``gradients`` is overwritten, so calling this twice on one batch gives
        the same values.
        """
        y_true = np.asarray(y_true, dtype=self.dtype)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=self.dtype)
        backpropagate(self.layers, self.loss, y_true, sample_weight)
        return self.gradients

    def loss_value(
        self, X: NDArray, y_true: NDArray, sample_weight: NDArray | None = None
    ) -> float:
        """Return the loss ``L`` of the network on ``(X, y_true)``."""
        y_pred = self.forward(X)
        return self.loss.value(np.asarray(y_true, dtype=self.dtype), y_pred, sample_weight)

    def compute_gradients(
        self, X: NDArray, y_true: NDArray, sample_weight: NDArray | None = None
    ) -> tuple[float, NDArray]:
        """Run forward propagation and backpropagation on one batch.

        Returns
        -------
        loss : float
            ``L`` before any update.
        gradients : ndarray of shape (n_parameters,)
            The network's ``gradients`` buffer, filled with ``∂L/∂θ``.
        """
        y_true = np.asarray(y_true, dtype=self.dtype)
        y_pred = self.forward(X)
        loss = self.loss.value(y_true, y_pred, sample_weight)
        return loss, self.backward(y_true, sample_weight)

    def trace(
        self,
        X: NDArray,
        y_true: NDArray | None = None,
        optimizer: Optimizer | None = None,
        *,
        sample_weight: NDArray | None = None,
        learning_rate: float = DEFAULT_LEARNING_RATE,
        update: bool = False,
        finite_differences: bool = True,
        input_names: list[str] | None = None,
        output_names: list[str] | None = None,
    ) -> StepTrace:
        """Run one training step on ``(X, y_true)`` and return its record.

        The record holds, per layer, ``z``, ``a``, ``δ``, the gradients the
        optimizer received, their finite-difference estimates and the weights
        before and after the step. Without ``y_true`` it stops after forward
        propagation. Unless ``update`` is True the step runs on copies, so
        the network and the optimizer stay as they were. See
        :func:`mlpkit.trace.trace_step` for every parameter.
        """
        return trace_step(
            self,
            X,
            y_true,
            optimizer,
            sample_weight=sample_weight,
            learning_rate=learning_rate,
            update=update,
            finite_differences=finite_differences,
            input_names=input_names,
            output_names=output_names,
        )

    def get_config(self) -> dict[str, Any]:
        """Return the architecture as JSON-ready data (no weights).

        ``loss_params`` is present only for a loss with parameters, and
        ``maxout_pieces`` only when a layer uses maxout, so the config of any
        other network has the same keys as before those settings existed.
        """
        config = {
            "layer_sizes": list(self.layer_sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "loss": self.loss.name,
            "dtype": self.dtype.name,
        }
        loss_params = self.loss.get_config()
        if loss_params:
            config["loss_params"] = loss_params
        if any(layer.pieces > 1 for layer in self.layers):
            config["maxout_pieces"] = self.maxout_pieces
        return config

    def get_arrays(self) -> dict[str, NDArray]:
        """Return each layer's weights and biases by name, ``weights_0`` first."""
        arrays = {}
        for index, layer in enumerate(self.layers):
            arrays[f"weights_{index}"] = layer.weights
            arrays[f"biases_{index}"] = layer.biases
        return arrays

    @classmethod
    def from_config(
        cls, config: dict[str, Any], arrays: dict[str, NDArray] | None = None
    ) -> Network:
        """Rebuild a network from :meth:`get_config`, with weights if given."""
        network = cls(**config, seed=0)
        if arrays is not None:
            network.set_arrays(arrays)
        return network

    def set_arrays(self, arrays: dict[str, NDArray]) -> None:
        """Copy weights and biases named as in :meth:`get_arrays` into the network."""
        for name, target in self.get_arrays().items():
            if name not in arrays:
                raise ParameterError(f"the weights lack the array {name!r}")
            source = np.asarray(arrays[name])
            if source.shape != target.shape:
                raise ParameterError(
                    f"array {name!r} has shape {source.shape}, expected {target.shape}"
                )
            target[...] = source

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Layers hold views into ``parameters``. Pickled as they are, each layer
        # would come back with its own copy, and an optimizer step on
        # ``parameters`` would no longer reach the layers. Rebuilding from the
        # config and the weights keeps the views (gradients start at zero).
        return (type(self).from_config, (self.get_config(), self.get_arrays()))

    def __repr__(self) -> str:
        sizes = [str(self.layer_sizes[0])]
        for layer in self.layers:
            sizes.append(f"{layer.n_out} {layer.activation.name}")
        loss = self.loss.name
        parameters = ", ".join(
            f"{key}={value!r}" for key, value in self.loss.get_config().items()
        )
        if parameters:
            loss = f"{loss}({parameters})"
        return (
            f"Network({' → '.join(sizes)}, loss={loss}, "
            f"parameters={self.n_parameters:,}, dtype={self.dtype.name})"
        )


def _checked_loss_params(loss_params: Any) -> dict[str, Any]:
    """Return ``loss_params`` as a dict, or raise ParameterError if not a mapping."""
    if loss_params is None:
        return {}
    if not isinstance(loss_params, Mapping) or not all(
        isinstance(key, str) for key in loss_params
    ):
        raise ParameterError(
            "loss_params must be a mapping from parameter names to values; "
            f"received: loss_params={loss_params!r}"
        )
    return dict(loss_params)
