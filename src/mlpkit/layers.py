"""Dense layers: forward propagation and each layer's share of backpropagation.

A layer's weights and biases, and their gradients, are views into the flat
buffers that :class:`mlpkit.network.Network` owns, so an optimizer updates
every parameter with a few vector operations.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .activations import Activation, get_activation


class Dense:
    """A fully connected layer ``z = a_prev · W + b``, ``a = f(z)``.

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

    Attributes
    ----------
    weights : ndarray of shape (n_in, n_out)
        ``W``, a view into the network's parameter buffer.
    biases : ndarray of shape (n_out,)
        ``b``, a view into the same buffer.
    weight_gradient, bias_gradient : ndarray
        ``∂L/∂W`` and ``∂L/∂b`` from the last backward pass, views into the
        network's gradient buffer.
    inputs, z, a, delta : ndarray of shape (n_samples, ·) or None
        The last batch's ``a_prev``, pre-activation, activation and
        ``δ = ∂l/∂z`` per sample, kept for backpropagation and inspection.
    """

    def __init__(self, n_in: int, n_out: int, activation: str, *, hidden: bool):
        self.n_in = n_in
        self.n_out = n_out
        self.activation: Activation = get_activation(activation, hidden=hidden)
        self.weights: NDArray = np.empty((n_in, n_out))
        self.biases: NDArray = np.empty(n_out)
        self.weight_gradient: NDArray = np.empty((n_in, n_out))
        self.bias_gradient: NDArray = np.empty(n_out)
        self.inputs: NDArray | None = None
        self.z: NDArray | None = None
        self.a: NDArray | None = None
        self.delta: NDArray | None = None

    @property
    def parameter_count(self) -> int:
        return self.n_in * self.n_out + self.n_out

    def bind(self, parameters: NDArray, gradients: NDArray) -> None:
        """Point the weights, biases and gradients at slices of flat buffers.

        Both buffers have ``parameter_count`` entries: the weights row by row,
        then the biases.
        """
        split = self.n_in * self.n_out
        self.weights = parameters[:split].reshape(self.n_in, self.n_out)
        self.biases = parameters[split:]
        self.weight_gradient = gradients[:split].reshape(self.n_in, self.n_out)
        self.bias_gradient = gradients[split:]

    def forward(self, inputs: NDArray) -> NDArray:
        """Compute ``z = a_prev · W + b`` and ``a = f(z)``, keeping both.

        ``inputs`` has shape ``(n_samples, n_in)``; the result has shape
        ``(n_samples, n_out)``.
        """
        self.inputs = inputs
        self.z = inputs @ self.weights + self.biases
        self.a = self.activation.forward(self.z)
        return self.a

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
        np.sum(scaled, axis=0, out=self.bias_gradient)

    def delta_of_previous(self, previous: Dense) -> NDArray:
        """Return the previous layer's ``δ_prev = (δ · Wᵀ) ⊙ f′_prev(z_prev)``."""
        grad_a = self.delta @ self.weights.T
        return previous.activation.backward(grad_a, previous.z, previous.a)

    def __repr__(self) -> str:
        return (
            f"Dense({self.n_in} → {self.n_out}, activation={self.activation.name!r}, "
            f"parameters={self.parameter_count})"
        )
