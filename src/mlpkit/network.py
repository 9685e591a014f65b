"""The network: dense layers over one flat parameter buffer, and its loss.

:class:`Network` ties the five steps together for one batch: it initializes
weights (:mod:`mlpkit.initializers`), runs forward propagation through its
layers (:mod:`mlpkit.layers`), measures the error (:mod:`mlpkit.losses`) and
backpropagates it (:mod:`mlpkit.backprop`). An optimizer
(:mod:`mlpkit.optimizers`) then updates ``parameters`` from ``gradients``.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .activations import DEFAULT_MAXOUT_PIECES, check_maxout_pieces, get_activation
from .backprop import backpropagate
from .errors import ParameterError
from .initializers import initialize_weights
from .layers import Dense
from .losses import Loss, get_loss
from .optimizers import Optimizer
from .trace import DEFAULT_LEARNING_RATE, StepTrace, trace_step

DTYPES = {"float32": np.float32, "float64": np.float64}

#: Arrays of ``n_parameters`` entries that training with a step optimizer keeps
#: at once. They are the parameters, their gradients, the training loop's
#: best-epoch and last-good copies, and up to three optimizer state arrays
#: (centered RMSprop with momentum keeps three, Adam two).
TRAINING_PARAMETER_COPIES = 7

#: Maximum bytes of pre-activations ``z`` and activations ``a``, over all
#: layers, that :meth:`Network.forward` keeps for one block of rows. A larger
#: input runs block by block, so predicting on many rows needs memory for one
#: block instead of all rows. 64 MiB is a small share of the memory of any
#: machine that trains networks, yet fits thousands of rows for layers of a
#: few thousand units, so each block's matrix products stay large.
FORWARD_BLOCK_BYTES = 64 * 2**20


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
    l1, l2 : float, default 0.0
        Strengths ``λ₁`` and ``λ₂`` of the weight penalties, finite and at
        least 0; see Notes.
    input_dropout : float, default 0.0
        Probability, in [0, 1), that training drops an input feature of a
        sample.
    hidden_dropout : float or sequence of float, default 0.0
        Probability, in [0, 1), that training drops a hidden unit's
        activation: one rate for every hidden layer, or one rate per hidden
        layer, first hidden layer first.
    max_norm : float or None, default None
        Largest Euclidean norm, above 0, of each unit's incoming weights
        after :meth:`apply_constraints`; None for no limit.

    Attributes
    ----------
    layers : list of Dense
        Hidden layers then the output layer.
    dropout_rates : tuple of float
        Dropout rate of each layer's inputs: ``input_dropout`` for the first
        layer, then each hidden layer's rate.
    parameters : ndarray of shape (n_parameters,)
        Every weight and bias, layer after layer, each layer's weights row by
        row followed by its biases. Layers hold views into it.
    gradients : ndarray of shape (n_parameters,)
        ``∂L/∂θ`` from the last backward pass, laid out like ``parameters``.

    Notes
    -----
    Training minimizes the data loss plus penalties on the weights (not the
    biases), with the same penalty for every batch size::

        L = L_data + λ₁ Σ|W| + (λ₂/2) Σ W²
        ∂L/∂W = ∂L_data/∂W + λ₁ sign(W) + λ₂ W

    :meth:`compute_gradients` returns this ``L`` and its gradients, so the
    training loss in a history includes the penalty. :meth:`loss_value`
    returns ``L_data`` alone, so the validation loss that early stopping
    monitors compares models by their fit, whatever the penalty.

    Dropout is inverted dropout: in :meth:`compute_gradients` each input of
    a layer that has a dropout rate ``p`` is multiplied by ``m = k / (1 − p)``
    with ``k ~ Bernoulli(1 − p)``, so ``E[a ⊙ m] = a``. :meth:`forward`,
    which predictions use, never drops anything. The masks come from a
    generator of the network's own, seeded from ``seed`` apart from the
    initial weights, whose state :meth:`get_dropout_state` returns.

    Max-norm is applied by :meth:`apply_constraints`, which the training
    loops call after every optimizer step. It rescales every column
    ``W[:, j]`` of every layer, output layer included, to a norm of at most
    ``max_norm``. For maxout, each piece has its own column.
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
        l1: float = 0.0,
        l2: float = 0.0,
        input_dropout: float = 0.0,
        hidden_dropout: float | Sequence[float] = 0.0,
        max_norm: float | None = None,
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
        self.l1 = _checked_penalty("l1", l1)
        self.l2 = _checked_penalty("l2", l2)
        self.input_dropout = _checked_rate("input_dropout", input_dropout)
        self.hidden_dropout = _checked_hidden_dropout(hidden_dropout, len(sizes) - 2)
        self.max_norm = _checked_max_norm(max_norm)
        hidden_rates = self.hidden_dropout
        if not isinstance(hidden_rates, list):
            hidden_rates = [hidden_rates] * (len(sizes) - 2)
        self.dropout_rates = (self.input_dropout, *hidden_rates)

        check_training_memory(
            sizes, activation, output_activation, self.maxout_pieces, self.dtype
        )
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
        pieces = [layer.pieces for layer in self.layers]
        self._forward_row_bytes = self.dtype.itemsize * _values_per_row(
            sizes, pieces, with_deltas=False
        )
        n_parameters = sum(layer.parameter_count for layer in self.layers)
        self.parameters = np.zeros(n_parameters, dtype=self.dtype)
        self.gradients = np.zeros(n_parameters, dtype=self.dtype)
        offset = 0
        for layer in self.layers:
            end = offset + layer.parameter_count
            layer.bind(self.parameters[offset:end], self.gradients[offset:end])
            offset = end
        # A child of the seed's sequence draws the dropout masks, so the
        # initial weights stay those that default_rng(seed) draws.
        dropout_seed = np.random.SeedSequence(seed).spawn(1)[0]
        self._dropout_rng = np.random.default_rng(dropout_seed)
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

    @property
    def has_dropout(self) -> bool:
        """Whether any layer's inputs have a dropout rate above 0."""
        return any(rate > 0.0 for rate in self.dropout_rates)

    def forward(self, X: NDArray) -> NDArray:
        """Propagate ``X`` (n_samples, n_features) forward; return ŷ (n_samples, n_outputs).

        No dropout is applied, whatever the dropout rates. When the ``z`` and
        ``a`` of all rows fit in :data:`FORWARD_BLOCK_BYTES`, the input runs as
        one pass and the layers keep its ``inputs``, ``z`` and ``a``. A larger
        input runs in blocks of rows that each fit, written into one output
        array, and the layers keep no ``inputs``, ``z`` or ``a`` afterwards.

        NOTE: OpenBLAS (with NumPy 2.4) chooses its kernels and its split
        between threads by the number of rows in a product, so a row's output
        from a blocked pass can differ in the last bits from one pass over all
        rows. The tests allow a relative difference of 1e-5 in float32 and
        1e-12 in float64. An input that fits one block gives exactly the
        one-pass result.
        """
        inputs = np.asarray(X, dtype=self.dtype)
        block_rows = max(1, FORWARD_BLOCK_BYTES // self._forward_row_bytes)
        if inputs.ndim != 2 or inputs.shape[0] <= block_rows:
            return self._propagate(inputs, None)
        return self._forward_in_blocks(inputs, block_rows)

    def _forward_in_blocks(self, inputs: NDArray, block_rows: int) -> NDArray:
        n_rows = inputs.shape[0]
        outputs = np.empty((n_rows, self.layer_sizes[-1]), dtype=self.dtype)
        for start in range(0, n_rows, block_rows):
            stop = min(start + block_rows, n_rows)
            outputs[start:stop] = self._propagate(inputs[start:stop], None)
            # Freed before the next block is computed, so that two blocks'
            # z and a are never held at once.
            for layer in self.layers:
                layer.clear_cache()
        return outputs

    def _propagate(
        self, X: NDArray, dropout_masks: Sequence[NDArray | None] | None
    ) -> NDArray:
        activation = np.asarray(X, dtype=self.dtype)
        if dropout_masks is None:
            dropout_masks = [None] * len(self.layers)
        elif len(dropout_masks) != len(self.layers):
            raise ParameterError(
                f"dropout_masks must have one entry per layer ({len(self.layers)}); "
                f"received {len(dropout_masks)} entries"
            )
        for layer, mask in zip(self.layers, dropout_masks):
            activation = layer.forward(activation, mask)
        return activation

    def draw_dropout_masks(self, n_samples: int) -> list[NDArray | None]:
        """Draw one dropout mask per layer from the network's dropout generator.

        Returns
        -------
        list of (ndarray of shape (n_samples, n_in) or None)
            For each layer, the mask ``m = k / (1 − p)`` of its inputs, with
            ``k ~ Bernoulli(1 − p)`` drawn independently per entry, or None
            where the rate ``p`` is 0. No number is drawn for those layers.
        """
        masks: list[NDArray | None] = []
        for layer, rate in zip(self.layers, self.dropout_rates):
            if rate == 0.0:
                masks.append(None)
                continue
            shape = (n_samples, layer.n_in)
            uniform = self._dropout_rng.random(shape, dtype=self.dtype)
            keep = uniform >= self.dtype.type(rate)
            masks.append(keep.astype(self.dtype) / self.dtype.type(1.0 - rate))
        return masks

    def get_dropout_state(self) -> dict[str, Any]:
        """Return the dropout generator's ``bit_generator.state``, ready for JSON."""
        return self._dropout_rng.bit_generator.state

    def set_dropout_state(self, state: Mapping[str, Any]) -> None:
        """Restore the dropout generator to a state from :meth:`get_dropout_state`.

        Raises
        ------
        ParameterError
            If ``state`` is not a state of NumPy's default bit generator.
        """
        try:
            self._dropout_rng.bit_generator.state = dict(state)
        except (TypeError, ValueError) as error:
            raise ParameterError(
                f"invalid dropout generator state ({error}); pass a value from "
                "get_dropout_state"
            ) from None

    def penalty(self) -> float:
        """Return the weight penalty ``λ₁ Σ|W| + (λ₂/2) Σ W²`` over every layer."""
        total = 0.0
        for layer in self.layers:
            if self.l1:
                total += self.l1 * float(np.abs(layer.weights).sum())
            if self.l2:
                total += 0.5 * self.l2 * float(np.square(layer.weights).sum())
        return total

    def apply_constraints(self) -> None:
        """Rescale each unit's incoming weights to a norm of at most ``max_norm``.

        ``W[:, j] ← W[:, j] · min(1, max_norm / ‖W[:, j]‖₂)``, up to rounding
        in the network's dtype. Does nothing when ``max_norm`` is None.
        """
        if self.max_norm is None:
            return
        for layer in self.layers:
            norms = np.sqrt(np.square(layer.weights).sum(axis=0))
            limit = self.dtype.type(self.max_norm)
            layer.weights *= limit / np.maximum(norms, limit)

    def backward(
        self, y_true: NDArray, sample_weight: NDArray | None = None
    ) -> NDArray:
        """Backpropagate the loss of the last forward pass; return ``gradients``.

        The weight gradients include the penalty's ``λ₁ sign(W) + λ₂ W``, and
        the dropout masks of that forward pass, if any, are applied again.
        ``gradients`` is overwritten, so calling this twice on one batch gives
        the same values.
        """
        y_true = np.asarray(y_true, dtype=self.dtype)
        if sample_weight is not None:
            sample_weight = self.sample_weight_in_dtype(sample_weight)
        backpropagate(self.layers, self.loss, y_true, sample_weight)
        for layer in self.layers:
            if self.l1:
                layer.weight_gradient += self.l1 * np.sign(layer.weights)
            if self.l2:
                layer.weight_gradient += self.l2 * layer.weights
        return self.gradients

    def sample_weight_in_dtype(self, sample_weight: NDArray) -> NDArray:
        """Return the sample weights in the network's dtype, for ``wᵢ / Σw``.

        Only the ratios ``wᵢ / Σw`` enter the gradients. Weights whose sum
        overflows the dtype or is 0 in it, such as 1e300 or 1e-50 in float32,
        are first scaled by a power of two in float64, which keeps every ratio
        exact. Without that, the ratios would be NaN.
        """
        weights = np.asarray(sample_weight, dtype=self.dtype)
        with np.errstate(over="ignore"):
            total = weights.sum()
        if np.isfinite(total) and total > 0:
            return weights
        exact = np.asarray(sample_weight, dtype=np.float64)
        _, exponent = np.frexp(exact.max())
        return np.ldexp(exact, -exponent).astype(self.dtype)

    def loss_value(
        self, X: NDArray, y_true: NDArray, sample_weight: NDArray | None = None
    ) -> float:
        """Return the data loss ``L_data`` on ``(X, y_true)``.

        No weight penalty is added and no dropout is applied. Validation
        losses and early stopping use this value.
        """
        y_pred = self.forward(X)
        return self.loss.value(np.asarray(y_true, dtype=self.dtype), y_pred, sample_weight)

    def training_loss(
        self,
        X: NDArray,
        y_true: NDArray,
        sample_weight: NDArray | None = None,
        *,
        dropout_masks: Sequence[NDArray | None] | None = None,
    ) -> float:
        """Return the training objective ``L = L_data + penalty`` on one batch.

        ``L_data`` is measured with the given dropout masks, as drawn by
        :meth:`draw_dropout_masks`, or without dropout when there are none.
        Unlike :meth:`compute_gradients` it draws no masks, so it is a
        deterministic function of the weights, as finite differences need.
        """
        y_true = np.asarray(y_true, dtype=self.dtype)
        y_pred = self._propagate(X, dropout_masks)
        loss = self.loss.value(y_true, y_pred, sample_weight)
        if self.l1 or self.l2:
            loss += self.penalty()
        return loss

    def compute_gradients(
        self,
        X: NDArray,
        y_true: NDArray,
        sample_weight: NDArray | None = None,
        *,
        dropout_masks: Sequence[NDArray | None] | None = None,
    ) -> tuple[float, NDArray]:
        """Run forward propagation and backpropagation on one batch.

        With dropout, new masks are drawn from the network's dropout
        generator unless ``dropout_masks`` gives them. Each layer keeps the
        mask of its inputs in ``input_mask``.

        Returns
        -------
        loss : float
            ``L = L_data + λ₁ Σ|W| + (λ₂/2) Σ W²`` before any update, with
            ``L_data`` under this batch's dropout masks.
        gradients : ndarray of shape (n_parameters,)
            The network's ``gradients`` buffer, filled with ``∂L/∂θ``.
        """
        X = np.asarray(X, dtype=self.dtype)
        if dropout_masks is None and self.has_dropout:
            dropout_masks = self.draw_dropout_masks(X.shape[0])
        loss = self.training_loss(X, y_true, sample_weight, dropout_masks=dropout_masks)
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

        ``loss_params`` is present only for a loss with parameters,
        ``maxout_pieces`` only when a layer uses maxout, and each
        regularization setting only when it differs from its default. The
        config of any other network has the same keys as before those settings
        existed.
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
        config.update(self._regularization_config())
        return config

    def _regularization_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.l1:
            config["l1"] = self.l1
        if self.l2:
            config["l2"] = self.l2
        if self.input_dropout:
            config["input_dropout"] = self.input_dropout
        if any(self.dropout_rates[1:]):
            config["hidden_dropout"] = copy.copy(self.hidden_dropout)
        if self.max_norm is not None:
            config["max_norm"] = self.max_norm
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
        """Rebuild a network from :meth:`get_config`, with weights if given.

        The dropout generator starts from seed 0, so a copy that must draw the
        same masks as the original needs :meth:`set_dropout_state` as well.
        """
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
        # The dropout generator's state follows through __setstate__.
        state = {"dropout_state": self.get_dropout_state()}
        return (type(self).from_config, (self.get_config(), self.get_arrays()), state)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.set_dropout_state(state["dropout_state"])

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
        regularization = "".join(
            f", {key}={value!r}" for key, value in self._regularization_config().items()
        )
        return (
            f"Network({' → '.join(sizes)}, loss={loss}, "
            f"parameters={self.n_parameters:,}, dtype={self.dtype.name}"
            f"{regularization})"
        )


def _values_per_row(
    layer_sizes: Sequence[int], pieces: Sequence[int], *, with_deltas: bool
) -> int:
    """Return the values of ``z`` and ``a``, and ``δ`` if asked, of one row.

    Per layer, ``z`` and ``δ`` have ``n_out · pieces`` columns and ``a`` has
    ``n_out``.
    """
    z_copies = 2 if with_deltas else 1
    return sum(
        n_out * (z_copies * layer_pieces + 1)
        for n_out, layer_pieces in zip(layer_sizes[1:], pieces)
    )


def _pieces_per_layer(
    layer_sizes: Sequence[int],
    activation: str,
    output_activation: str,
    maxout_pieces: int,
) -> list[int]:
    """Return the pre-activations per unit of each layer: maxout's pieces, else 1."""
    last = len(layer_sizes) - 2
    pieces = []
    for index in range(len(layer_sizes) - 1):
        name = output_activation if index == last else activation
        function = get_activation(
            name, hidden=index < last, maxout_pieces=maxout_pieces
        )
        pieces.append(function.pieces)
    return pieces


def count_parameters(
    layer_sizes: Sequence[int],
    activation: str,
    output_activation: str,
    maxout_pieces: int = DEFAULT_MAXOUT_PIECES,
) -> int:
    """Return the number of weights and biases of a network, without allocating it.

    A layer of ``n_out`` units after ``n_in`` has ``(n_in + 1) · n_out · pieces``
    parameters, where ``pieces`` is ``maxout_pieces`` for maxout and 1 otherwise.
    """
    pieces = _pieces_per_layer(
        layer_sizes, activation, output_activation, maxout_pieces
    )
    return sum(
        (n_in + 1) * n_out * layer_pieces
        for n_in, n_out, layer_pieces in zip(layer_sizes, layer_sizes[1:], pieces)
    )


def physical_memory_bytes() -> int | None:
    """Return the machine's physical memory in bytes, or None where unknown.

    Reads ``os.sysconf``, which Linux and macOS provide and Windows lacks. A
    container's memory limit is not taken into account.
    """
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return pages * page_size


def format_bytes(n_bytes: float) -> str:
    """Return a byte count in binary units, such as ``"1.5 GiB"``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    value = float(n_bytes)
    for unit in units[:-1]:
        if value < 1024:
            break
        value /= 1024
    else:
        unit = units[-1]
    if unit == "bytes":
        return f"{int(value)} bytes"
    return f"{value:.1f} {unit}"


def check_training_memory(
    layer_sizes: Sequence[int],
    activation: str,
    output_activation: str,
    maxout_pieces: int,
    dtype: np.dtype,
    *,
    batch_rows: int = 0,
    parameter: str = "layer_sizes",
) -> None:
    """Raise ParameterError if training the network would need more than the RAM.

    The estimate counts ``TRAINING_PARAMETER_COPIES`` arrays of the parameter
    count, plus ``z``, ``a`` and ``δ`` of every layer for ``batch_rows`` rows.
    The limit is the machine's physical memory rather than its free memory,
    which the page cache makes look smaller than it is, so only networks that
    cannot train on this machine at all are rejected. Where the memory size is
    unknown, nothing is checked. ``parameter`` is the setting that the error
    names as the one to change.
    """
    # NOTE: the curvature pairs of L-BFGS and the blocks of Network.forward
    # (at most FORWARD_BLOCK_BYTES) are not counted, so a network just under
    # the limit can still run out of memory.
    limit = physical_memory_bytes()
    if limit is None:
        return
    n_parameters = count_parameters(
        layer_sizes, activation, output_activation, maxout_pieces
    )
    parameter_bytes = TRAINING_PARAMETER_COPIES * n_parameters * dtype.itemsize
    pieces = _pieces_per_layer(
        layer_sizes, activation, output_activation, maxout_pieces
    )
    row_values = _values_per_row(layer_sizes, pieces, with_deltas=True)
    activation_bytes = batch_rows * row_values * dtype.itemsize
    needed = parameter_bytes + activation_bytes
    if needed <= limit:
        return

    layout = " → ".join(str(size) for size in layer_sizes)
    batch = ""
    if batch_rows:
        batch = f", plus the activations of a batch of {batch_rows} rows,"
    advice = "use fewer hidden units"
    if any(layer_pieces > 1 for layer_pieces in pieces):
        advice = (
            f"use fewer hidden units or a smaller maxout_pieces (now "
            f"{maxout_pieces:,}), because each maxout unit has maxout_pieces "
            "columns of weights"
        )
    raise ParameterError(
        f"layer sizes {layout} give {n_parameters:,} parameters, whose values, "
        "gradients, best-epoch copies and optimizer state"
        f"{batch} need about {format_bytes(needed)} "
        f"in {dtype.name}, more than the {format_bytes(limit)} of memory on this "
        f"machine; {advice}",
        parameter=parameter,
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


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _checked_penalty(name: str, value: Any) -> float:
    """Return a penalty strength as a float, or raise ParameterError."""
    if not (_is_real(value) and math.isfinite(value) and value >= 0.0):
        raise ParameterError(
            f"{name} must be a finite number of at least 0; received: {name}={value!r}"
        )
    return float(value)


def _checked_rate(name: str, value: Any) -> float:
    """Return a dropout rate as a float, or raise ParameterError unless in [0, 1)."""
    if not (_is_real(value) and 0.0 <= value < 1.0):
        raise ParameterError(
            f"{name} must be a dropout rate in [0, 1); received: {name}={value!r}"
        )
    return float(value)


def _checked_hidden_dropout(value: Any, n_hidden: int) -> float | list[float]:
    """Return one rate for all hidden layers, or a list of one per hidden layer."""
    if _is_real(value):
        return _checked_rate("hidden_dropout", value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ParameterError(
            "hidden_dropout must be a dropout rate or a sequence of one rate per "
            f"hidden layer; received: hidden_dropout={value!r}"
        )
    if len(value) != n_hidden:
        raise ParameterError(
            f"hidden_dropout must have one rate per hidden layer ({n_hidden}); "
            f"received {len(value)} rates: hidden_dropout={list(value)!r}"
        )
    return [
        _checked_rate(f"hidden_dropout[{index}]", rate)
        for index, rate in enumerate(value)
    ]


def _checked_max_norm(value: Any) -> float | None:
    """Return ``max_norm`` as a float or None, or raise ParameterError."""
    if value is None:
        return None
    if not (_is_real(value) and math.isfinite(value) and value > 0.0):
        raise ParameterError(
            f"max_norm must be a finite number above 0, or None for no limit; "
            f"received: max_norm={value!r}"
        )
    return float(value)
