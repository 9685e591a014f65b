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

The regression losses besides squared error (absolute error, Huber, Poisson,
quantile) pair with the identity output, whose backward pass hands ``∂l/∂ŷ``
on unchanged, so ``δ = ∂l/∂ŷ`` without a fused rule. Huber's ``δ`` and the
quantile's ``τ`` are parameters of the loss, returned by ``get_config`` so a
saved network is rebuilt with them.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ParameterError


def _clip_probabilities(y_pred: NDArray) -> NDArray:
    eps = np.finfo(y_pred.dtype).eps
    # Two ufunc calls cost less than np.clip's Python wrappers on a mini-batch,
    # and give the same values, NaN included.
    return np.minimum(np.maximum(y_pred, eps), 1.0 - eps)


class Loss:
    """A per-sample loss ``l(ŷ, y)`` and its gradient ``∂l/∂ŷ``."""

    name = ""
    #: The output activation whose pairing gives the fused delta ``ŷ − y``.
    fused_activation = ""
    #: Names of the constructor's parameters, which are also its attributes.
    parameter_names: tuple[str, ...] = ()

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
            # The same value as losses.mean(), without its Python wrapper.
            return float(np.add.reduce(losses) / losses.size)
        return float(np.dot(sample_weight, losses) / sample_weight.sum())

    def fuses_with(self, activation: str) -> bool:
        """Return whether the output delta with ``activation`` is ``ŷ − y``."""
        return activation == self.fused_activation

    def get_config(self) -> dict[str, float]:
        """Return the parameters as JSON-ready data, empty for a loss without any."""
        return {key: getattr(self, key) for key in self.parameter_names}

    def __repr__(self) -> str:
        parameters = ", ".join(
            f"{key}={value!r}" for key, value in self.get_config().items()
        )
        return f"{type(self).__name__}({parameters})"


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


class AbsoluteError(Loss):
    """``l = Σₖ |ŷₖ − yₖ|`` with ``∂l/∂ŷ = sign(ŷ − y)``; for regression.

    At ``ŷₖ = yₖ`` the loss has no derivative, and the gradient is 0 there, the
    mean of the two one-sided slopes (PyTorch's ``L1Loss`` also gives 0).
    """

    name = "absolute_error"

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return np.abs(y_pred - y_true).sum(axis=1)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return np.sign(y_pred - y_true)


class HuberLoss(Loss):
    """Squared error near the target, absolute error beyond ``δ``; for regression.

    With ``r = ŷ − y``, per output::

        l(r) = ½ r²             for |r| ≤ δ
        l(r) = δ (|r| − ½ δ)    for |r| > δ

    summed over outputs, and ``∂l/∂ŷ = clip(r, −δ, δ)``. This is PyTorch's
    ``HuberLoss``. It is computed as ``½ m² + δ (|r| − m)`` with
    ``m = min(|r|, δ)``, so ``r²`` is never formed where it could overflow.

    Parameters
    ----------
    delta : float, default 1.0
        ``δ > 0``, in the units of the encoded target (standardized units when
        the target is standardized).
    """

    name = "huber"
    parameter_names = ("delta",)

    def __init__(self, delta: float = 1.0):
        self.delta = _finite_number(self.name, "delta", delta)
        if self.delta <= 0:
            raise ParameterError(
                f"delta of the huber loss must be positive; received: delta={delta!r}"
            )

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        size = np.abs(y_pred - y_true)
        inside = np.minimum(size, self.delta)
        return (0.5 * inside * inside + self.delta * (size - inside)).sum(axis=1)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return np.clip(y_pred - y_true, -self.delta, self.delta)


class PoissonLoss(Loss):
    """``l = Σₖ (e^ŷₖ − yₖ ŷₖ)`` for counts ``y ≥ 0``, with ``∂l/∂ŷ = e^ŷ − y``.

    The network's output ``ŷ`` is the log of the rate ``λ``, so pair this loss
    with the identity output and predict ``λ = e^ŷ``. Through the identity the
    output delta is ``δ = e^z − y``. The loss is the Poisson negative
    log-likelihood ``λ − y log λ + log y!`` without the constant ``log y!``,
    as PyTorch's ``PoissonNLLLoss(log_input=True, full=False)``.
    """

    name = "poisson"

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return (_rate(y_pred) - y_true * y_pred).sum(axis=1)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return _rate(y_pred) - y_true


class QuantileLoss(Loss):
    """The pinball loss of quantile ``τ``; for regression.

    With ``r = ŷ − y``, per output::

        l(r) = (1 − τ) r    for r ≥ 0 (over-prediction)
        l(r) = −τ r         for r < 0 (under-prediction)

    summed over outputs, which is ``max(τ (y − ŷ), (τ − 1)(y − ŷ))``. Its
    minimizer is the ``τ``-quantile of ``y``, and ``τ = 0.5`` gives half the
    absolute error. ``∂l/∂ŷ`` is ``1 − τ`` above the target, ``−τ`` below it, and
    at ``ŷ = y``, where there is no derivative, the mean ``½ − τ`` of the two,
    as for :class:`AbsoluteError`. All three are ``½ (sign(r) + 1) − τ``.

    Parameters
    ----------
    quantile : float, default 0.5
        ``τ``, strictly between 0 and 1.
    """

    name = "quantile"
    parameter_names = ("quantile",)

    def __init__(self, quantile: float = 0.5):
        self.quantile = _finite_number(self.name, "quantile", quantile)
        if not 0.0 < self.quantile < 1.0:
            raise ParameterError(
                "quantile of the quantile loss must be strictly between 0 and 1; "
                f"received: quantile={quantile!r}"
            )

    def per_sample(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        residual = y_pred - y_true
        over = (1.0 - self.quantile) * residual
        under = -self.quantile * residual
        return np.maximum(over, under).sum(axis=1)

    def gradient(self, y_true: NDArray, y_pred: NDArray) -> NDArray:
        return 0.5 * (np.sign(y_pred - y_true) + 1.0) - self.quantile


def _rate(log_rate: NDArray) -> NDArray:
    # e^ŷ overflows to infinity above ŷ ≈ 709 (88 in float32). The training
    # loop stops on the infinite loss, so NumPy's warning would only repeat it.
    with np.errstate(over="ignore"):
        return np.exp(log_rate)


def _finite_number(loss: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        valid = False
    else:
        valid = math.isfinite(value)
    if not valid:
        raise ParameterError(
            f"{key} of the {loss} loss must be a finite number; "
            f"received: {key}={value!r}"
        )
    return float(value)


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        SquaredError,
        BinaryCrossEntropy,
        CategoricalCrossEntropy,
        AbsoluteError,
        HuberLoss,
        PoissonLoss,
        QuantileLoss,
    )
}


def get_loss(name: str, **params: Any) -> Loss:
    """Return the loss called ``name`` with its parameters ``params``.

    Parameters
    ----------
    name : str
        A key of ``LOSSES``.
    **params
        The loss's parameters, by the names in its ``parameter_names``:
        ``delta`` for ``"huber"``, ``quantile`` for ``"quantile"``. The others
        take none. Left out, a parameter keeps its default.

    Raises
    ------
    ParameterError
        If the name is unknown, a parameter does not belong to the loss, or
        its value is out of range.
    """
    if name not in LOSSES:
        raise ParameterError(
            f"loss must be one of {', '.join(LOSSES)}; received: loss={name!r}"
        )
    loss_class = LOSSES[name]
    for key in params:
        if key not in loss_class.parameter_names:
            accepted = ", ".join(loss_class.parameter_names) or "none"
            raise ParameterError(
                f"the {name} loss has no parameter {key!r}; its parameters: "
                f"{accepted}"
            )
    return loss_class(**params)
