"""Finite-difference estimates of the loss gradient, the check on backpropagation.

Each estimate moves one parameter ``θᵢ`` by ``±h`` in a float64 copy of the
network and measures the training objective ``L`` on both sides::

    ∂L/∂θᵢ ≈ (L(θ + h eᵢ) − L(θ − h eᵢ)) / 2h

``L`` is :meth:`~mlpkit.network.Network.training_loss`: the data loss plus the
weight penalty, under fixed dropout masks when the network uses dropout, so
the estimate matches the gradients of one training step.

It needs two forward passes per parameter and does not use the chain rule,
so agreement with backpropagation is evidence that both are right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .network import Network

#: Step ``h`` of the central differences, in float64. The truncation error is
#: about h² times the third derivative and the rounding error about
#: 1e-16 / h, both near 1e-11 for losses of order one.
FINITE_DIFFERENCE_STEP = 1e-5
#: Budget of a full check, in approximate multiply-adds
#: (n_parameters² × n_samples). Within it every gradient entry is estimated.
FULL_ESTIMATE_BUDGET = 10**9
#: Beyond the budget, the entries estimated per weight or bias array: those
#: with the largest gradient magnitude, which a summary view lists.
ESTIMATED_PER_ARRAY = 8


def estimate_gradients(
    network: Network,
    X: NDArray,
    y_true: NDArray,
    sample_weight: NDArray | None = None,
    entries: NDArray | None = None,
    step: float = FINITE_DIFFERENCE_STEP,
    dropout_masks: list[NDArray | None] | None = None,
) -> NDArray:
    """Estimate ``∂L/∂θ`` by central differences on a float64 copy of ``network``.

    Parameters
    ----------
    network : Network
        Left unchanged.
    X, y_true : ndarray of shape (n_samples, n_features), (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,), optional
    entries : ndarray of int, optional
        Flat indices into ``network.parameters`` to estimate; default all.
    step : float, default 1e-5
    dropout_masks : list of (ndarray or None), optional
        One dropout mask per layer, held fixed for every evaluation; default
        no dropout.

    Returns
    -------
    ndarray of shape (n_parameters,), float64
        The estimate at each requested entry, NaN elsewhere.
    """
    config = {**network.get_config(), "dtype": "float64"}
    double = type(network).from_config(config, network.get_arrays())
    X = np.asarray(X, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.float64)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if entries is None:
        entries = np.arange(double.n_parameters)
    masks = None
    if dropout_masks is not None:
        masks = [
            None if mask is None else np.asarray(mask, dtype=np.float64)
            for mask in dropout_masks
        ]

    estimates = np.full(double.n_parameters, np.nan)
    for index in entries:
        original = double.parameters[index]
        double.parameters[index] = original + step
        upper = double.training_loss(X, y_true, sample_weight, dropout_masks=masks)
        double.parameters[index] = original - step
        lower = double.training_loss(X, y_true, sample_weight, dropout_masks=masks)
        double.parameters[index] = original
        estimates[index] = (upper - lower) / (2.0 * step)
    return estimates


def estimate_layer_gradients(
    network: Network,
    X: NDArray,
    y_true: NDArray,
    sample_weight: NDArray | None = None,
) -> list[tuple[NDArray, NDArray]]:
    """Estimate each layer's ``∂L/∂W`` and ``∂L/∂b`` after a backward pass.

    Every entry is estimated while ``n_parameters² × n_samples`` stays within
    ``FULL_ESTIMATE_BUDGET``. Beyond it only the ``ESTIMATED_PER_ARRAY``
    entries of each array with the largest gradient in ``network.gradients``
    are, and the others are NaN. The dropout masks of that pass, kept in each
    layer's ``input_mask``, are held fixed.

    Returns
    -------
    list of (ndarray, ndarray)
        Per layer, estimates shaped like its weights and its biases.
    """
    n_parameters = network.n_parameters
    if n_parameters**2 * X.shape[0] <= FULL_ESTIMATE_BUDGET:
        entries = np.arange(n_parameters)
    else:
        entries = largest_gradient_entries(network)
    masks = [layer.input_mask for layer in network.layers]
    estimates = estimate_gradients(
        network, X, y_true, sample_weight, entries, dropout_masks=masks
    )

    # The slices follow the layout of Network.parameters: layer after layer,
    # each layer's weights row by row, then its biases.
    per_layer = []
    offset = 0
    for layer in network.layers:
        split = offset + layer.weights.size
        end = offset + layer.parameter_count
        weights = estimates[offset:split].reshape(layer.weights.shape)
        per_layer.append((weights, estimates[split:end]))
        offset = end
    return per_layer


def largest_gradient_entries(network: Network) -> NDArray:
    """Return the flat indices of each array's largest-magnitude gradients.

    Picks ``ESTIMATED_PER_ARRAY`` entries from every layer's weights and from
    its biases, by the magnitude of ``network.gradients``.
    """
    chosen = []
    offset = 0
    for layer in network.layers:
        split = offset + layer.weights.size
        end = offset + layer.parameter_count
        for start, stop in ((offset, split), (split, end)):
            magnitudes = np.abs(network.gradients[start:stop])
            order = np.argsort(-magnitudes, kind="stable")[:ESTIMATED_PER_ARRAY]
            chosen.append(start + order)
        offset = end
    return np.concatenate(chosen)
