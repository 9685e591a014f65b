"""Activation functions f(z) and their backward passes, kept in one table.

Each activation maps the pre-activation ``z`` of a layer to its activation
``a = f(z)`` and turns the gradient of the loss with respect to ``a`` into the
gradient with respect to ``z`` (the layer's delta). For the element-wise
activations that is ``δ = ∂L/∂a ⊙ f′(z)``; softmax couples the units of a row
and applies its Jacobian instead. Maxout is not element-wise either: its layer
computes several pre-activations per unit and keeps the largest.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from .errors import ParameterError

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
#: Affine pieces per maxout unit unless set otherwise. Two is the fewest that
#: make maxout nonlinear, and enough for it to learn relu or leaky relu.
DEFAULT_MAXOUT_PIECES = 2
#: Beyond this |z| the normal density e^(−z²/2) / √(2π) is below the smallest
#: subnormal float64 (from |z| ≈ 38.6), so clipping z here changes no GELU
#: slope and keeps z² from overflowing.
GELU_DENSITY_CUTOFF = 40.0


class Activation:
    """An activation function: ``a = f(z)`` and ``δ = ∂L/∂a ⊙ f′(z)``.

    Subclasses write ``forward`` and ``derivative``. ``derivative`` receives
    both ``z`` and ``a`` because several slopes are cheapest written with the
    output (for sigmoid, ``f′(z) = a (1 − a)``).
    """

    name = ""
    #: Whether the activation may sit in a hidden layer.
    hidden_allowed = True
    #: Pre-activations per unit: a layer with ``n_out`` units computes
    #: ``n_out · pieces`` of them. More than one only for maxout.
    pieces = 1

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
        return _logistic(z)

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

    def backward(self, grad_a: NDArray, z: NDArray, a: NDArray) -> NDArray:
        # Multiplying by the boolean mask gives the same numbers as multiplying
        # by the derivative, without first converting the mask to floats.
        return grad_a * (z > 0)


class LeakyReLU(Activation):
    """``f(z) = z`` for ``z > 0``, else ``α z``; ``f′(z)`` is 1 or ``α``.

    ``α`` is ``LEAKY_RELU_SLOPE`` (0.01, as in PyTorch's ``LeakyReLU``).
    """

    name = "leaky_relu"

    def forward(self, z: NDArray) -> NDArray:
        return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return np.where(z > 0, 1.0, LEAKY_RELU_SLOPE).astype(z.dtype)


class ELU(Activation):
    """``f(z) = z`` for ``z > 0``, else ``α (e^z − 1)``; ``f′(z)`` is 1 or ``α e^z``.

    ``α`` is ``ELU_ALPHA`` (1, as in PyTorch's ``ELU``). The exponential is
    taken of ``min(z, 0)``, so it never overflows.
    """

    name = "elu"

    def forward(self, z: NDArray) -> NDArray:
        return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0)))

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return np.where(z > 0, 1.0, ELU_ALPHA * np.exp(np.minimum(z, 0)))


class GELU(Activation):
    """``f(z) = z Φ(z)`` and ``f′(z) = Φ(z) + z φ(z)``.

    ``Φ`` is the standard normal distribution function and
    ``φ(z) = e^(−z²/2) / √(2π)`` its density. This is the exact form, PyTorch's
    ``GELU`` with its default ``approximate="none"``, not the tanh approximation.
    """

    name = "gelu"

    def forward(self, z: NDArray) -> NDArray:
        # NumPy has no erf. SciPy, already a dependency through scikit-learn,
        # computes Φ directly as ndtr, which keeps its precision in the lower
        # tail, where ½ (1 + erf(z / √2)) cancels to zero (Φ(−10) ≈ 7.6e-24).
        return z * ndtr(z)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        bounded = np.clip(z, -GELU_DENSITY_CUTOFF, GELU_DENSITY_CUTOFF)
        density = np.exp(-0.5 * bounded * bounded) / math.sqrt(2.0 * math.pi)
        return ndtr(z) + z * density


class Softplus(Activation):
    """``f(z) = log(1 + e^z)`` and ``f′(z) = 1 / (1 + e^−z)``, the sigmoid.

    Computed as ``max(z, 0) + log(1 + e^−|z|)``, so the exponential never
    overflows. This is PyTorch's ``Softplus`` with its default ``β = 1``, except
    that PyTorch returns ``z`` itself above ``z = 20``, where the two differ by
    less than ``e^−20 ≈ 2e-9``.
    """

    name = "softplus"

    def forward(self, z: NDArray) -> NDArray:
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        return _logistic(z)


class Maxout(Activation):
    """``aⱼ = maxₚ zⱼₚ`` over the ``k`` pieces of each unit.

    A maxout layer with ``n_out`` units computes ``z`` of shape
    ``(n_samples, n_out · k)``, and the pieces of unit ``j`` are the columns
    ``j·k … j·k + k − 1``. The slope ``∂aⱼ/∂zⱼₚ`` is 1 for the piece that
    attains the max and 0 for the others, so backpropagation routes each
    unit's ``∂L/∂aⱼ`` to that piece alone: ``δⱼₚ = ∂L/∂aⱼ · 𝟙[p = argmax_q zⱼ_q]``.
    Where pieces tie, the max has no derivative and the first of them gets
    the gradient.

    Parameters
    ----------
    pieces : int, default 2
        ``k``, at least 2.
    """

    name = "maxout"

    def __init__(self, pieces: int = DEFAULT_MAXOUT_PIECES):
        self.pieces = check_maxout_pieces(pieces)

    def _grouped(self, z: NDArray) -> NDArray:
        return z.reshape(z.shape[0], -1, self.pieces)

    def forward(self, z: NDArray) -> NDArray:
        """Return ``a`` of shape ``(n_samples, n_out)`` from ``z``."""
        return self._grouped(z).max(axis=2)

    def derivative(self, z: NDArray, a: NDArray) -> NDArray:
        """Return the 0/1 slope of each piece, shaped like ``z``."""
        grouped = self._grouped(z)
        winners = grouped.argmax(axis=2)[:, :, np.newaxis]
        slope = np.zeros_like(grouped)
        np.put_along_axis(slope, winners, 1.0, axis=2)
        return slope.reshape(z.shape)

    def backward(self, grad_a: NDArray, z: NDArray, a: NDArray) -> NDArray:
        """Return ``δ`` shaped like ``z``, each unit's ``∂L/∂a`` at its winner."""
        return np.repeat(grad_a, self.pieces, axis=1) * self.derivative(z, a)

    def __repr__(self) -> str:
        return f"Maxout(pieces={self.pieces})"


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
    cls.name: cls
    for cls in (
        Identity,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        GELU,
        Softplus,
        Maxout,
        Softmax,
    )
}
HIDDEN_ACTIVATIONS = tuple(
    name for name, cls in ACTIVATIONS.items() if cls.hidden_allowed
)


def _logistic(z: NDArray) -> NDArray:
    """Return ``1 / (1 + e^−z)`` without overflow for any finite ``z``."""
    exp_neg_abs = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, exp_neg_abs) / (1.0 + exp_neg_abs)


def check_maxout_pieces(pieces: Any) -> int:
    """Return ``pieces`` as an int, or raise ParameterError unless it is an int ≥ 2."""
    try:
        count = None if isinstance(pieces, bool) else operator.index(pieces)
    except TypeError:
        count = None
    if count is None or count < 2:
        raise ParameterError(
            "maxout_pieces must be an integer of at least 2; "
            f"received: maxout_pieces={pieces!r}"
        )
    return count


def get_activation(
    name: str,
    *,
    hidden: bool = False,
    maxout_pieces: int = DEFAULT_MAXOUT_PIECES,
) -> Activation:
    """Return the activation called ``name``.

    Parameters
    ----------
    name : str
        A key of ``ACTIVATIONS``.
    hidden : bool, default False
        Whether the activation is for a hidden layer, where softmax is not
        allowed.
    maxout_pieces : int, default 2
        Pieces per unit when ``name`` is ``"maxout"``; ignored otherwise.

    Raises
    ------
    ParameterError
        If the name is unknown, names softmax for a hidden layer, or
        ``maxout_pieces`` is not an integer of at least 2 for maxout.
    """
    allowed = HIDDEN_ACTIVATIONS if hidden else tuple(ACTIVATIONS)
    if name not in allowed:
        where = "hidden layers" if hidden else "layers"
        raise ParameterError(
            f"activation must be one of {', '.join(allowed)} for {where}; "
            f"received: activation={name!r}"
        )
    if name == Maxout.name:
        return Maxout(maxout_pieces)
    return ACTIVATIONS[name]()
