"""The trace of one training step: every number the engine computed, kept.

:func:`trace_step` runs one step of training through the network itself,
forward propagation and backpropagation with
:meth:`~mlpkit.network.Network.compute_gradients`, then one real optimizer
step, and copies what each :class:`~mlpkit.layers.Dense` layer cached along
the way: its input ``a_prev``, pre-activation ``z``, activation ``a``, delta
``δ`` and the gradients ``∂L/∂W``, ``∂L/∂b``. Beside each gradient the trace
keeps the finite-difference estimate of :mod:`mlpkit.finite_differences`,
which measures the slope of the loss directly.

Array shapes: ``X`` is ``(n_samples, n_features)``; for a layer with
``n_in`` inputs and ``n_out`` units, ``z``, ``a`` and ``δ`` are
``(n_samples, n_out)``, ``W`` and ``∂L/∂W`` are ``(n_in, n_out)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .errors import DataError, ParameterError
from .finite_differences import FINITE_DIFFERENCE_STEP, estimate_layer_gradients
from .optimizers import SGD, Optimizer

if TYPE_CHECKING:
    from .network import Network

#: Learning rate of the plain SGD step a trace takes when given no optimizer.
DEFAULT_LEARNING_RATE = 0.1


@dataclass(repr=False)
class LayerTrace:
    """One layer's numbers in a traced step.

    Forward fields are always set. The backward and update fields are None
    in a forward-only trace (one without targets). Estimates are NaN for the
    entries that were not estimated.

    Attributes
    ----------
    number : int
        ``ℓ``, counting from 1 for the first hidden layer; ``a₀`` is ``X``.
    activation : str
        Name of ``f``.
    weights, biases : ndarray of shape (n_in, n_out) and (n_out,)
        ``W`` and ``b`` before the step.
    inputs, z, a : ndarray of shape (n_samples, ·)
        ``a_prev``, ``z = a_prev · W + b`` and ``a = f(z)``. Under dropout
        ``inputs`` is the masked ``a_prev ⊙ m``.
    input_mask : ndarray of shape (n_samples, n_in) or None
        The dropout mask ``m`` of this layer's inputs, with entries 0 and
        ``1 / (1 − p)``; None without dropout on them.
    activation_gradient : ndarray of shape (n_samples, n_out) or None
        ``∂l/∂a`` per sample: ``δₗ₊₁ · Wₗ₊₁ᵀ`` for a hidden layer, the loss's
        gradient for an output layer without the fused delta, else None.
    slope : ndarray of shape (n_samples, n_out) or None
        ``f′(z)``; None for softmax, whose Jacobian is not element-wise.
    delta : ndarray of shape (n_samples, n_out) or None
        ``δ = ∂l/∂z`` per sample, as backpropagation stored it.
    weight_gradient, bias_gradient : ndarray or None
        ``∂L/∂W`` and ``∂L/∂b``, the values the optimizer received.
    weight_gradient_estimate, bias_gradient_estimate : ndarray or None
        Central finite-difference estimates of the same, in float64.
    weights_after, biases_after : ndarray or None
        ``W`` and ``b`` after the optimizer step.
    """

    number: int
    activation: str
    weights: NDArray
    biases: NDArray
    inputs: NDArray
    z: NDArray
    a: NDArray
    input_mask: NDArray | None = None
    activation_gradient: NDArray | None = None
    slope: NDArray | None = None
    delta: NDArray | None = None
    weight_gradient: NDArray | None = None
    bias_gradient: NDArray | None = None
    weight_gradient_estimate: NDArray | None = None
    bias_gradient_estimate: NDArray | None = None
    weights_after: NDArray | None = None
    biases_after: NDArray | None = None

    @property
    def n_in(self) -> int:
        return self.weights.shape[0]

    @property
    def n_out(self) -> int:
        return self.weights.shape[1]

    @property
    def weight_update(self) -> NDArray | None:
        """``ΔW = W_after − W``, or None in a forward-only trace."""
        if self.weights_after is None:
            return None
        return self.weights_after - self.weights

    @property
    def bias_update(self) -> NDArray | None:
        """``Δb = b_after − b``, or None in a forward-only trace."""
        if self.biases_after is None:
            return None
        return self.biases_after - self.biases

    def __repr__(self) -> str:
        text = f"layer {self.number}: {self.n_in} → {self.n_out} {self.activation}"
        if self.weight_gradient is None:
            return f"LayerTrace({text}, forward only)"
        return (
            f"LayerTrace({text}, |∂L/∂W|={_norm(self.weight_gradient):.4g}, "
            f"|∂L/∂b|={_norm(self.bias_gradient):.4g}, "
            f"|ΔW|={_norm(self.weight_update):.4g})"
        )


@dataclass(repr=False)
class StepTrace:
    """A record of one training step: the five steps with their real numbers.

    Attributes
    ----------
    layers : list of LayerTrace
        Hidden layers, then the output layer.
    inputs : ndarray of shape (n_samples, n_features)
        ``X = a₀`` in the network's dtype.
    targets : ndarray of shape (n_samples, n_outputs) or None
        ``y``; None for a forward-only trace.
    outputs : ndarray of shape (n_samples, n_outputs)
        ``ŷ``, the output layer's activation.
    loss_name : str
    fused_output_delta : bool
        Whether the output delta is ``ŷ − y`` (see :mod:`mlpkit.losses`).
    loss, loss_after : float or None
        ``L`` on the batch before and after the optimizer step: the training
        objective, with the weight penalty and the step's dropout masks.
    sample_weight : ndarray of shape (n_samples,) or None
    optimizer : dict
        The optimizer's ``get_config()``: its name, learning rate and settings.
    input_names, output_names : list of str or None
        Names of the input features and output units, when known.
    finite_difference_step : float
        ``h`` of the estimates.
    """

    layers: list[LayerTrace]
    inputs: NDArray
    targets: NDArray | None
    outputs: NDArray
    loss_name: str
    fused_output_delta: bool
    loss: float | None = None
    loss_after: float | None = None
    sample_weight: NDArray | None = None
    optimizer: dict[str, Any] = field(default_factory=dict)
    input_names: list[str] | None = None
    output_names: list[str] | None = None
    finite_difference_step: float = FINITE_DIFFERENCE_STEP

    @property
    def n_samples(self) -> int:
        return self.inputs.shape[0]

    @property
    def has_backward(self) -> bool:
        """Whether the trace went past forward propagation (it had targets)."""
        return self.targets is not None

    @property
    def error(self) -> NDArray | None:
        """``ŷ − y``, or None in a forward-only trace."""
        if self.targets is None:
            return None
        return self.outputs - self.targets

    @property
    def learning_rate(self) -> float | None:
        return self.optimizer.get("learning_rate")

    @property
    def architecture(self) -> str:
        """The layer sizes, such as ``"2 → 2 sigmoid → 1 sigmoid"``."""
        parts = [str(self.inputs.shape[1])]
        for layer in self.layers:
            parts.append(f"{layer.n_out} {layer.activation}")
        return " → ".join(parts)

    def estimate_differences(self) -> NDArray:
        """Return ``|∂L/∂θ − estimate|`` for every estimated gradient entry."""
        differences = []
        for layer in self.layers:
            pairs = (
                (layer.weight_gradient, layer.weight_gradient_estimate),
                (layer.bias_gradient, layer.bias_gradient_estimate),
            )
            for gradient, estimate in pairs:
                if gradient is None or estimate is None:
                    continue
                estimated = ~np.isnan(estimate)
                differences.append(np.abs(gradient[estimated] - estimate[estimated]))
        if not differences:
            return np.zeros(0)
        return np.concatenate(differences)

    def __repr__(self) -> str:
        header = (
            f"StepTrace({self.architecture}, loss={self.loss_name}, "
            f"{self.n_samples} sample{'' if self.n_samples == 1 else 's'})"
        )
        lines = [header]
        if self.has_backward:
            lines.append(
                f"  loss {self.loss:.6g} → {self.loss_after:.6g} after one "
                f"{_optimizer_text(self.optimizer)} step"
            )
        else:
            lines.append("  forward propagation only: no targets given")
        for layer in self.layers:
            lines.append(f"  {layer!r}")
        differences = self.estimate_differences()
        if differences.size:
            lines.append(
                f"  chain rule against finite differences: largest difference "
                f"{differences.max():.2g} over {differences.size} entries"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .trace_view import trace_html

        return trace_html(self)


def _norm(array: NDArray | None) -> float:
    return float(np.linalg.norm(array)) if array is not None else float("nan")


def _optimizer_text(config: dict[str, Any]) -> str:
    settings = ", ".join(
        f"{key}={value!r}" for key, value in config.items() if key != "name"
    )
    return f"{config.get('name', '?')}({settings})"


def output_unit_names(
    task: str, target_names: Sequence[str], classes: Sequence[Any] | None
) -> list[str]:
    """Name a model's output units after its target columns or classes.

    Regression units carry the target column names. Classification units
    read ``"target=class"``, and a binary network has one unit, for the
    second class in ``classes``.
    """
    if task == "regression":
        return [str(name) for name in target_names]
    labels = list(classes)
    if task == "binary":
        labels = labels[1:]
    return [f"{target_names[0]}={label}" for label in labels]


def copy_network(network: Network, dtype: str | None = None) -> Network:
    """Return an independent copy of ``network``, in ``dtype`` if given.

    The copy is rebuilt from the configuration and the weights, so its layers
    are views into its own parameter buffer. Its dropout generator continues
    from the original's state, so it draws the masks the original would.
    """
    config = network.get_config()
    if dtype is not None:
        config["dtype"] = dtype
    copied = type(network).from_config(config, network.get_arrays())
    copied.set_dropout_state(network.get_dropout_state())
    return copied


def trace_step(
    network: Network,
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
    """Run one training step on a batch and record every number it produced.

    A network with dropout draws masks from its dropout generator, as in
    training, and the finite-difference estimates and ``loss_after`` reuse
    those masks. A network with ``max_norm`` applies the constraint after the
    optimizer step, so ``weights_after`` are the weights training would keep.

    Parameters
    ----------
    network : Network
    X : array-like of shape (n_samples, n_features)
        The batch, already encoded as the network's inputs.
    y_true : array-like of shape (n_samples, n_outputs), optional
        Encoded targets; a 1-D array is taken as one output. Without them the
        trace stops after forward propagation.
    optimizer : Optimizer, optional
        The optimizer whose step is recorded. Default: plain SGD with
        ``learning_rate``.
    sample_weight : array-like of shape (n_samples,), optional
    learning_rate : float, default 0.1
        Learning rate of the default optimizer; ignored when one is given.
    update : bool, default False
        Whether the step changes ``network`` and ``optimizer``. When False
        the step runs on copies of both and they stay as they were.
    finite_differences : bool, default True
        Whether to estimate the gradients by central differences, see
        :func:`~mlpkit.finite_differences.estimate_layer_gradients` for
        which entries a large network gets.
    input_names, output_names : list of str, optional
        Names of the input features and output units, kept for display.

    Raises
    ------
    DataError
        If ``X``, ``y_true`` or ``sample_weight`` do not fit the network.
    """
    inputs, targets, weights = _check_batch(network, X, y_true, sample_weight)
    if optimizer is None:
        optimizer = SGD(learning_rate=learning_rate)
    if not update:
        network = copy_network(network)
        optimizer = copy.deepcopy(optimizer)

    if targets is None:
        # One pass over every row, because forward splits a large input into
        # blocks and then keeps no layer caches, which the records below read.
        outputs = network._propagate(inputs, None).copy()
        layers = [
            _forward_record(network, index) for index in range(len(network.layers))
        ]
        return _make_trace(
            network, layers, inputs, None, outputs, input_names, output_names
        )

    loss, gradients = network.compute_gradients(inputs, targets, weights)
    layers = [
        _backward_record(network, index, targets)
        for index in range(len(network.layers))
    ]
    if finite_differences:
        estimates = estimate_layer_gradients(network, inputs, targets, weights)
        for record, (weight_estimate, bias_estimate) in zip(layers, estimates):
            record.weight_gradient_estimate = weight_estimate
            record.bias_gradient_estimate = bias_estimate
    outputs = network.layers[-1].a.copy()

    masks = [layer.input_mask for layer in network.layers]
    optimizer.step(network.parameters, gradients)
    network.apply_constraints()
    for layer, record in zip(network.layers, layers):
        record.weights_after = layer.weights.copy()
        record.biases_after = layer.biases.copy()
    loss_after = network.training_loss(inputs, targets, weights, dropout_masks=masks)

    trace = _make_trace(
        network, layers, inputs, targets, outputs, input_names, output_names
    )
    trace.loss = loss
    trace.loss_after = loss_after
    trace.sample_weight = weights
    trace.optimizer = optimizer.get_config()
    return trace


def _make_trace(
    network: Network,
    layers: list[LayerTrace],
    inputs: NDArray,
    targets: NDArray | None,
    outputs: NDArray,
    input_names: list[str] | None,
    output_names: list[str] | None,
) -> StepTrace:
    output_activation = network.layers[-1].activation.name
    return StepTrace(
        layers=layers,
        inputs=inputs,
        targets=targets,
        outputs=outputs,
        loss_name=network.loss.name,
        fused_output_delta=network.loss.fuses_with(output_activation),
        input_names=None if input_names is None else list(input_names),
        output_names=None if output_names is None else list(output_names),
    )


def _forward_record(network: Network, index: int) -> LayerTrace:
    layer = network.layers[index]
    return LayerTrace(
        number=index + 1,
        activation=layer.activation.name,
        weights=layer.weights.copy(),
        biases=layer.biases.copy(),
        inputs=layer.inputs.copy(),
        z=layer.z.copy(),
        a=layer.a.copy(),
        input_mask=None if layer.input_mask is None else layer.input_mask.copy(),
    )


def _backward_record(network: Network, index: int, targets: NDArray) -> LayerTrace:
    record = _forward_record(network, index)
    layer = network.layers[index]
    record.delta = layer.delta.copy()
    record.weight_gradient = layer.weight_gradient.copy()
    record.bias_gradient = layer.bias_gradient.copy()
    if layer.activation.name != "softmax":
        record.slope = layer.activation.derivative(layer.z, layer.a)

    # NOTE: the engine does not cache ∂l/∂a, so it is formed here for display
    # from the cached δ and weights of the next layer, or from the loss's own
    # gradient. The delta shown is always the cached one.
    if index + 1 < len(network.layers):
        following = network.layers[index + 1]
        record.activation_gradient = following.delta @ following.weights.T
        if following.input_mask is not None:
            record.activation_gradient *= following.input_mask
    elif not network.loss.fuses_with(layer.activation.name):
        record.activation_gradient = network.loss.gradient(targets, layer.a)
    return record


def _check_batch(
    network: Network,
    X: Any,
    y_true: Any,
    sample_weight: Any,
) -> tuple[NDArray, NDArray | None, NDArray | None]:
    """Return the batch as arrays of the network's dtype, or raise DataError."""
    n_features = network.layer_sizes[0]
    n_outputs = network.layer_sizes[-1]
    inputs = _as_float_array(X, network.dtype, "X")
    if inputs.ndim != 2 or inputs.shape[1] != n_features or inputs.shape[0] == 0:
        raise DataError(
            f"X must have shape (n_samples, {n_features}) with at least one row "
            f"for this network; received shape {inputs.shape}"
        )

    if y_true is None:
        if sample_weight is not None:
            raise ParameterError("sample_weight needs targets; pass y_true as well")
        return inputs, None, None
    targets = _as_float_array(y_true, network.dtype, "y_true")
    if targets.ndim == 1 and n_outputs == 1:
        targets = targets[:, np.newaxis]
    if targets.shape != (inputs.shape[0], n_outputs):
        raise DataError(
            f"y_true must have shape ({inputs.shape[0]}, {n_outputs}) to match X "
            f"and the output layer; received shape {targets.shape}"
        )

    if sample_weight is None:
        return inputs, targets, None
    weights = _as_float_array(sample_weight, network.dtype, "sample_weight")
    if weights.shape != (inputs.shape[0],):
        raise DataError(
            f"sample_weight must have shape ({inputs.shape[0]},); received "
            f"{weights.shape}"
        )
    if np.any(weights < 0) or weights.sum() <= 0:
        raise DataError("sample_weight must be non-negative with a positive sum")
    return inputs, targets, weights


def _as_float_array(values: Any, dtype: np.dtype, name: str) -> NDArray:
    try:
        array = np.array(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} must be numeric ({error})") from error
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} contains NaN or infinity; encode or drop those values")
    return array
