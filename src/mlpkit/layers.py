"""Dense layers: forward propagation and each layer's share of backpropagation.

A layer's weights and biases, and their gradients, are views into the flat
buffers that :class:`mlpkit.network.Network` owns, so an optimizer updates
every parameter with a few vector operations.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .activations import DEFAULT_MAXOUT_PIECES, Activation, get_activation


class Dense:
    """A fully connected layer ``z = a_prev · W + b``, ``a = f(z)``.

    For maxout, ``z`` has ``pieces`` columns per unit and ``f`` keeps the
    largest of each unit's pieces, so ``W`` and ``b`` are ``pieces`` times as
    wide as the layer. For every other activation ``pieces`` is 1.

    Parameters
    ----------
    n_in : int
        Units of the previous layer (or input features).
    n_out : int
        Units of this layer.
    activation : str
        Name of ``f``, see :mod:`mlpkit.activations`.
    hidden : bool
        Whether the layer is a hidden layer, where softmax is not allowed.
    maxout_pieces : int, default 2
        Pieces per unit when ``activation`` is ``"maxout"``; ignored otherwise.

    Attributes
    ----------
    pieces : int
        Pre-activations per unit: ``maxout_pieces`` for maxout, else 1.
    weights : ndarray of shape (n_in, n_out · pieces)
        ``W``, a view into the network's parameter buffer.
    biases : ndarray of shape (n_out · pieces,)
        ``b``, a view into the same buffer.
    weight_gradient, bias_gradient : ndarray
        ``∂L/∂W`` and ``∂L/∂b`` from the last backward pass, views into the
        network's gradient buffer.
    inputs, z, a, delta : ndarray of shape (n_samples, ·) or None
        The last batch's ``a_prev``, pre-activation, activation and
        ``δ = ∂l/∂z`` per sample, kept for backpropagation and inspection.
        ``z`` and ``δ`` have ``n_out · pieces`` columns, ``a`` has ``n_out``.
        Under dropout, ``inputs`` is the masked ``a_prev ⊙ m``.
    input_mask : ndarray of shape (n_samples, n_in) or None
        The dropout mask ``m`` of the last forward pass, with entries 0 and
        ``1 / (1 − p)``; None when that pass used no dropout.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str,
        *,
        hidden: bool,
        maxout_pieces: int = DEFAULT_MAXOUT_PIECES,
    ):
        self.n_in = n_in
        self.n_out = n_out
        self.activation: Activation = get_activation(
            activation, hidden=hidden, maxout_pieces=maxout_pieces
        )
        self.pieces = self.activation.pieces
        width = n_out * self.pieces
        self.weights: NDArray = np.empty((n_in, width))
        self.biases: NDArray = np.empty(width)
        self.weight_gradient: NDArray = np.empty((n_in, width))
        self.bias_gradient: NDArray = np.empty(width)
        self.inputs: NDArray | None = None
        self.z: NDArray | None = None
        self.a: NDArray | None = None
        self.delta: NDArray | None = None
        self.input_mask: NDArray | None = None

    @property
    def parameter_count(self) -> int:
        return self.weights.size + self.biases.size

    def bind(self, parameters: NDArray, gradients: NDArray) -> None:
        """Point the weights, biases and gradients at slices of flat buffers.

        Both buffers have ``parameter_count`` entries: the weights row by row,
        then the biases.
        """
        shape = self.weights.shape
        split = self.weights.size
        self.weights = parameters[:split].reshape(shape)
        self.biases = parameters[split:]
        self.weight_gradient = gradients[:split].reshape(shape)
        self.bias_gradient = gradients[split:]

    def forward(self, inputs: NDArray, mask: NDArray | None = None) -> NDArray:
        """Compute ``z = a_prev · W + b`` and ``a = f(z)``, keeping both.

        ``inputs`` has shape ``(n_samples, n_in)``; the result has shape
        ``(n_samples, n_out)`` and ``z`` has ``n_out · pieces`` columns. A
        dropout ``mask`` of the shape of ``inputs`` replaces ``a_prev`` by
        ``a_prev ⊙ mask``, and :meth:`delta_of_previous` applies it again.
        """
        self.input_mask = mask
        if mask is not None:
            inputs = inputs * mask
        self.inputs = inputs
        self.z = inputs @ self.weights
        self.z += self.biases
        self.a = self.activation.forward(self.z)
        return self.a

    def clear_cache(self) -> None:
        """Drop the cached ``inputs``, ``z``, ``a``, ``delta`` and ``input_mask``."""
        self.inputs = None
        self.z = None
        self.a = None
        self.delta = None
        self.input_mask = None

    def backward(self, delta: NDArray, row_scale: float | NDArray) -> None:
        """Store ``δ`` and the gradients ``∂L/∂W = a_prevᵀ · (r ⊙ δ)``, ``∂L/∂b = Σᵢ rᵢ δᵢ``.

        ``r`` is ``row_scale``: ``1 / n`` for an unweighted batch, or the column
        ``wᵢ / Σw`` of shape ``(n_samples, 1)`` for weighted samples. The
        gradients are overwritten, never added to, so two backward passes over
        one batch give the same result.
        """
        self.delta = delta
        scaled = delta * row_scale
        np.matmul(self.inputs.T, scaled, out=self.weight_gradient)
        np.add.reduce(scaled, axis=0, out=self.bias_gradient)

    def delta_of_previous(self, previous: Dense) -> NDArray:
        """Return the previous layer's ``δ_prev = (δ · Wᵀ) ⊙ f′_prev(z_prev)``.

        Under dropout it is ``δ_prev = ((δ · Wᵀ) ⊙ m) ⊙ f′_prev(z_prev)``,
        because this layer received ``a_prev ⊙ m``.
        """
        grad_a = self.delta @ self.weights.T
        if self.input_mask is not None:
            grad_a *= self.input_mask
        return previous.activation.backward(grad_a, previous.z, previous.a)

    def __repr__(self) -> str:
        pieces = f", pieces={self.pieces}" if self.pieces > 1 else ""
        return (
            f"Dense({self.n_in} → {self.n_out}, activation={self.activation.name!r}"
            f"{pieces}, parameters={self.parameter_count})"
        )
