"""Backpropagation: the error's gradient, from the output layer back to the first.

For layers ``1 … L`` with ``δₗ = ∂lᵢ/∂zₗ`` per sample:

- output layer: ``δ_L = ∂l/∂ŷ ⊙ f′_L(z_L)``, or ``δ_L = ŷ − y`` where the output
  activation and the loss fuse (see :mod:`mlpkit.losses`);
- hidden layers, by the chain rule: ``δₗ = (δₗ₊₁ · Wₗ₊₁ᵀ) ⊙ f′ₗ(zₗ)``, or
  ``δₗ = ((δₗ₊₁ · Wₗ₊₁ᵀ) ⊙ mₗ) ⊙ f′ₗ(zₗ)`` when the forward pass multiplied
  ``aₗ`` by a dropout mask ``mₗ``;
- gradients: ``∂L/∂Wₗ = aₗ₋₁ᵀ · δₗ / n`` and ``∂L/∂bₗ = Σᵢ δₗᵢ / n``, with
  ``1 / n`` replaced by ``wᵢ / Σw`` for weighted samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .layers import Dense
from .losses import Loss


def output_delta(loss: Loss, output_layer: Dense, y_true: NDArray) -> NDArray:
    """Return ``δ_L`` of the output layer after a forward pass.

    Uses the fused ``ŷ − y`` where ``loss`` pairs with the output activation,
    and ``∂l/∂ŷ`` through the activation's backward pass otherwise.
    """
    y_pred = output_layer.a
    if loss.fuses_with(output_layer.activation.name):
        return y_pred - y_true
    grad_a = loss.gradient(y_true, y_pred)
    return output_layer.activation.backward(grad_a, output_layer.z, y_pred)


def row_scale(n_samples: int, sample_weight: NDArray | None) -> float | NDArray:
    """Return the factor each sample's delta gets in the gradients.

    ``1 / n`` without weights, else the column ``wᵢ / Σw`` of shape
    ``(n_samples, 1)``.
    """
    if sample_weight is None:
        return 1.0 / n_samples
    return (sample_weight / sample_weight.sum())[:, np.newaxis]


def backpropagate(
    layers: Sequence[Dense],
    loss: Loss,
    y_true: NDArray,
    sample_weight: NDArray | None = None,
) -> None:
    """Fill every layer's ``delta`` and gradients, output layer first.

    The layers must hold the caches of a forward pass over the batch whose
    targets are ``y_true`` (shape ``(n_samples, n_outputs)``).
    """
    scale = row_scale(y_true.shape[0], sample_weight)
    delta = output_delta(loss, layers[-1], y_true)
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        layer.backward(delta, scale)
        if index > 0:
            delta = layer.delta_of_previous(layers[index - 1])
