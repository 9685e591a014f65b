"""Weight initialization, the first step of training.

Weights are drawn from a seeded NumPy generator with a scale chosen by the
layer's activation, and biases start at zero:

- Glorot (Xavier) uniform for sigmoid, tanh, identity and softmax:
  ``W ~ U(−r, r)`` with ``r = √(6 / (n_in + n_out))``, which keeps the variance
  of activations and gradients about equal across layers for activations that
  are roughly linear near zero.
- He normal for relu and leaky relu: ``W ~ N(0, 2 / n_in)``, doubling the
  variance to make up for the half of the units that relu switches off.

Weights are drawn in float64 and then cast, so the same seed gives the same
weights bit for bit, and float32 weights are the float64 ones rounded.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

HE_ACTIVATIONS = frozenset({"relu", "leaky_relu"})


def initialization_scheme(activation: str) -> str:
    """Return ``"he"`` for the relu family and ``"glorot"`` otherwise."""
    return "he" if activation in HE_ACTIVATIONS else "glorot"


def initialize_weights(
    n_in: int, n_out: int, activation: str, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Draw a weight matrix of shape ``(n_in, n_out)`` for a layer.

    Parameters
    ----------
    n_in, n_out : int
        Units feeding the layer and units in it.
    activation : str
        The layer's activation; it picks Glorot or He scaling.
    rng : numpy.random.Generator
        The generator to draw from; it advances by ``n_in * n_out`` draws.
    """
    if initialization_scheme(activation) == "he":
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))
