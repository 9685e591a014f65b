"""Activation functions f(z) and their backward passes, kept in one table.

Each activation maps the pre-activation ``z`` of a layer to its activation
``a = f(z)`` and turns the gradient of the loss with respect to ``a`` into the
gradient with respect to ``z`` (the layer's delta). For the element-wise
activations that is ``δ = ∂L/∂a ⊙ f′(z)``; softmax couples the units of a row
and applies its Jacobian instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .errors import ParameterError

LEAKY_RELU_SLOPE = 0.01


class Activation:
    """An activation function: ``a = f(z)`` and ``δ = ∂L/∂a ⊙ f′(z)``.

    Subclasses write ``forward`` and ``derivative``. ``derivative`` receives
    both ``z`` and ``a`` because several slopes are cheapest written with the
    output (for sigmoid, ``f′(z) = a (1 − a)``).
    """

    name = ""
    #: Whether the activation may sit in a hidden layer.
    hidden_allowed = True

    def forward(self, z: NDArray) -> NDArray:
        raise NotImplementedError

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        raise NotImplementedError

    def backward(self, grad_a: NDArray, z: NDArray, a: NDArray) -> NDArray:
        """Return ``δ = ∂L/∂z = ∂L/∂a ⊙ f′(z)``, shape ``(n_samples, n_units)``."""
        return grad_a * self.derivative(z, a)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Activation):
    """``f(z) = z`` and ``f′(z) = 1``; the output of a regression network."""

    name = "identity"

    def forward(self, z: NDArray) -> NDArray:
        return z.copy()

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return np.ones_like(z)

    def backward(self, grad_a: NDArray, z: NDArray, a: NDArray) -> NDArray:
        return grad_a.copy()


class Sigmoid(Activation):
    """``f(z) = 1 / (1 + e^−z)`` and ``f′(z) = a (1 − a)``.

    Computed as ``1 / (1 + e^−z)`` for ``z ≥ 0`` and ``e^z / (1 + e^z)`` for
    ``z < 0``, so the exponential never overflows for any finite ``z``.
    """

    name = "sigmoid"

    def forward(self, z: NDArray) -> NDArray:
        exp_neg_abs = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0, exp_neg_abs) / (1.0 + exp_neg_abs)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return a * (1.0 - a)


class Tanh(Activation):
    """``f(z) = tanh z`` and ``f′(z) = 1 − a²``."""

    name = "tanh"

    def forward(self, z: NDArray) -> NDArray:
        return np.tanh(z)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return 1.0 - a * a


class ReLU(Activation):
    """``f(z) = max(0, z)`` and ``f′(z) = 1`` for ``z > 0``, else 0."""

    name = "relu"

    def forward(self, z: NDArray) -> NDArray:
        return np.maximum(z, 0)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return (z > 0).astype(z.dtype)


class LeakyReLU(Activation):
    """``f(z) = z`` for ``z > 0``, else ``α z``; ``f′(z)`` is 1 or ``α``.

    ``α`` is ``LEAKY_RELU_SLOPE`` (0.01, as in PyTorch's ``LeakyReLU``).
    """

    name = "leaky_relu"

    def forward(self, z: NDArray) -> NDArray:
        return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return np.where(z > 0, 1.0, LEAKY_RELU_SLOPE).astype(z.dtype)


class Softmax(Activation):
    """``aₖ = e^{zₖ} / Σⱼ e^{zⱼ}`` over each row; an output activation only.

    The Jacobian ``∂aₖ/∂zⱼ = aₖ (𝟙[k = j] − aⱼ)`` couples the units, so the
    backward pass is ``δ = a ⊙ (∂L/∂a − Σⱼ (∂L/∂aⱼ) aⱼ)`` row by row. Paired with
    categorical cross-entropy this simplifies to ``δ = ŷ − y``.
    """

    name = "softmax"
    hidden_allowed = False

    def forward(self, z: NDArray) -> NDArray:
        shifted = z - z.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        raise ParameterError(
            "softmax has no element-wise derivative; use Softmax.backward"
        )

    def backward(self, grad_a: NDArray, z: NDArray, a: NDArray) -> NDArray:
        weighted_sum = (grad_a * a).sum(axis=1, keepdims=True)
        return a * (grad_a - weighted_sum)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax)
}
HIDDEN_ACTIVATIONS = tuple(
    name for name, cls in ACTIVATIONS.items() if cls.hidden_allowed
)


def get_activation(name: str, *, hidden: bool = False) -> Activation:
    """Return the activation called ``name``.

    Raises
    ------
    ParameterError
        If the name is unknown, or names softmax for a hidden layer.
    """
    allowed = HIDDEN_ACTIVATIONS if hidden else tuple(ACTIVATIONS)
    if name not in allowed:
        where = "hidden layers" if hidden else "layers"
        raise ParameterError(
            f"activation must be one of {', '.join(allowed)} for {where}; "
            f"received: activation={name!r}"
        )
    return ACTIVATIONS[name]()
