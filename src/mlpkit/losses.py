"""Losses: the error between the prediction ŷ and the target y.

Each loss is a per-sample loss ``lᵢ`` averaged with sample weights ``wᵢ``
(all one unless given) into the training objective::

    L = Σᵢ wᵢ lᵢ / Σᵢ wᵢ

``gradient`` returns ``∂lᵢ/∂ŷᵢ`` per sample, without the ``wᵢ / Σw`` factor;
backpropagation applies that factor when it forms the weight gradients.

Fused output delta. For three pairs of output activation and loss the delta of
the output layer simplifies to ``δ = ŷ − y``:

- identity with squared error: ``l = ½‖ŷ − y‖²``, so ``∂l/∂z = ŷ − y``;
- sigmoid with binary cross-entropy: ``∂l/∂ŷ = (ŷ − y) / (ŷ (1 − ŷ))`` and
  ``f′(z) = ŷ (1 − ŷ)`` cancel;
- softmax with categorical cross-entropy: ``∂l/∂zₖ = Σⱼ (−yⱼ/ŷⱼ) ŷⱼ (𝟙[j=k] − ŷₖ)
  = ŷₖ Σⱼ yⱼ − yₖ = ŷₖ − yₖ`` because the targets of a row sum to one.

The fused form is both cheaper and exact where the chain of separate factors
would divide by a saturated ``ŷ (1 − ŷ)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .errors import ParameterError


def _clip_probabilities(y_pred: NDArray) -> NDArray:
    eps = np.finfo(y_pred.dtype).eps
    return np.clip(y_pred, eps, 1.0 - eps)


class Loss:
    """A per-sample loss ``l(ŷ, y)`` and its gradient ``∂l/∂ŷ``."""

    name = ""
    #: The output activation whose pairing gives the fused delta ``ŷ − y``.
    fused_activation = ""

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        """Return ``lᵢ`` for each row, shape ``(n_samples,)``."""
        raise NotImplementedError

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        """Return ``∂lᵢ/∂ŷᵢ``, shape ``(n_samples, n_outputs)``."""
        raise NotImplementedError

    def value(
        self,
        y_true: NDArray,
        y_pred: NDArray,
        sample_weight: NDArray | None = None,
    ) -> float:
        """Return ``L = Σ wᵢ lᵢ / Σ wᵢ`` as a Python float."""
        losses = self.per_sample(y_true, y_pred)
        if sample_weight is None:
            return float(losses.mean())
        return float(np.dot(sample_weight, losses) / sample_weight.sum())

    def fuses_with(self, activation: str) -> bool:
        """Return whether the output delta with ``activation`` is ``ŷ − y``."""
        return activation == self.fused_activation

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SquaredError(Loss):
    """``l = ½ Σₖ (ŷₖ − yₖ)²`` with ``∂l/∂ŷ = ŷ − y``; for regression."""

    name = "squared_error"
    fused_activation = "identity"

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        residual = y_pred - y_true
        return 0.5 * np.einsum("ij,ij->i", residual, residual)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return y_pred - y_true


class BinaryCrossEntropy(Loss):
    """``l = −Σₖ [yₖ log ŷₖ + (1 − yₖ) log(1 − ŷₖ)]``; for sigmoid outputs.

    ``∂l/∂ŷ = (ŷ − y) / (ŷ (1 − ŷ))``. Predictions are clipped to
    ``[ε, 1 − ε]`` (``ε`` the dtype's machine epsilon) so the logarithm stays
    finite.
    """

    name = "binary_cross_entropy"
    fused_activation = "sigmoid"

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        p = _clip_probabilities(y_pred)
        terms = y_true * np.log(p) + (1.0 - y_true) * np.log1p(-p)
        return -terms.sum(axis=1)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        p = _clip_probabilities(y_pred)
        return (p - y_true) / (p * (1.0 - p))


class CategoricalCrossEntropy(Loss):
    """``l = −Σₖ yₖ log ŷₖ`` over one-hot targets; for softmax outputs.

    ``∂l/∂ŷ = −y / ŷ``, with ``ŷ`` clipped below at ``ε`` as in
    :class:`BinaryCrossEntropy`.
    """

    name = "categorical_cross_entropy"
    fused_activation = "softmax"

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        p = _clip_probabilities(y_pred)
        return -(y_true * np.log(p)).sum(axis=1)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return -y_true / _clip_probabilities(y_pred)


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (SquaredError, BinaryCrossEntropy, CategoricalCrossEntropy)
}


def get_loss(name: str) -> Loss:
    """Return the loss called ``name``; raise ParameterError if it is unknown."""
    if name not in LOSSES:
        raise ParameterError(
            f"loss must be one of {', '.join(LOSSES)}; received: loss={name!r}"
        )
    return LOSSES[name]()
