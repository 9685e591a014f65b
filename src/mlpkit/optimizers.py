"""Optimizers: the update step of gradient descent, on flat parameter buffers.

Every optimizer updates the network's whole ``parameters`` vector from its
``gradients`` vector in place, so a step costs a few vector operations
whatever the number of layers. State (velocities, moments, the step count)
lives in the optimizer and is exposed through ``get_state`` and ``set_state``
so it can be saved with a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ParameterError


def _check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool
) -> float:
    """Return ``value`` as a float, or raise ParameterError outside the range.

    The range is ``(low, high]`` when ``low_open`` and ``[low, high]`` otherwise.
    """
    value = float(value)
    above_low = value > low if low_open else value >= low
    if not (np.isfinite(value) and above_low and value <= high):
        bracket = "(" if low_open else "["
        raise ParameterError(
            f"{name} must be in {bracket}{low}, {high}]; received: {name}={value!r}"
        )
    return value


class Optimizer:
    """The shared part of optimizers: the learning rate and the step count.

    Subclasses write ``_update`` and name their state arrays in
    ``state_names``.
    """

    name = ""
    state_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float):
        self.learning_rate = _check_range(
            "learning_rate", learning_rate, 0.0, np.inf, low_open=True
        )
        self.iterations = 0
        self._state: dict[str, NDArray] = {}

    def step(self, parameters: NDArray, gradients: NDArray) -> None:
        """Update ``parameters`` in place from ``gradients``."""
        if not self._state and self.state_names:
            for name in self.state_names:
                self._state[name] = np.zeros_like(parameters)
        self.iterations += 1
        self._update(parameters, gradients)

    def _update(self, parameters: NDArray, gradients: NDArray) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Return the name and hyperparameters as JSON-ready data."""
        return {"name": self.name, "learning_rate": self.learning_rate}

    def get_state(self) -> tuple[int, dict[str, NDArray]]:
        """Return the step count and the state arrays (empty before a step)."""
        return self.iterations, dict(self._state)

    def set_state(self, iterations: int, state: dict[str, NDArray]) -> None:
        """Restore what :meth:`get_state` returned."""
        self.iterations = int(iterations)
        self._state = {name: np.array(state[name]) for name in state}

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{key}={value!r}" for key, value in self.get_config().items()
            if key != "name"
        )
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    With momentum ``μ`` and learning rate ``η``, following PyTorch's
    ``torch.optim.SGD``::

        v ← μ v + g
        θ ← θ − η v              (classical momentum)
        θ ← θ − η (g + μ v)      (Nesterov momentum)

    With ``μ = 0`` this is plain ``θ ← θ − η g``. For a constant ``η`` it gives
    the same iterates as scikit-learn's ``v ← μ v − η g``, ``θ ← θ + v``.
    """

    name = "sgd"

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False
    ):
        super().__init__(learning_rate)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0, low_open=False)
        if nesterov and self.momentum == 0.0:
            raise ParameterError(
                "nesterov momentum needs momentum > 0; received: momentum=0.0"
            )
        self.nesterov = bool(nesterov)
        self.state_names = ("velocity",) if self.momentum > 0 else ()

    def _update(self, parameters: NDArray, gradients: NDArray) -> None:
        if self.momentum == 0.0:
            parameters -= self.learning_rate * gradients
            return
        velocity = self._state["velocity"]
        velocity *= self.momentum
        velocity += gradients
        if self.nesterov:
            parameters -= self.learning_rate * (gradients + self.momentum * velocity)
        else:
            parameters -= self.learning_rate * velocity

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }


class Adam(Optimizer):
    """Adam, with bias-corrected moment estimates.

    With gradient ``g`` at step ``t``::

        m ← β₁ m + (1 − β₁) g
        v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)

    Libraries differ in where ``ε`` enters the update, so ``epsilon_placement``
    selects one of two rules:

    - ``"corrected"`` (default), as ``torch.optim.Adam``::

          θ ← θ − η m̂ / (√v̂ + ε)

    - ``"uncorrected"``, as scikit-learn's multilayer perceptrons (its
      ``AdamOptimizer``, checked in scikit-learn 1.9.1)::

          θ ← θ − η √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√v + ε)

    The two agree except for ``ε``: the second rule is the first with ``ε``
    replaced by ``ε / √(1 − β₂ᵗ)``, a larger value in early steps.
    """

    name = "adam"
    state_names = ("first_moment", "second_moment")
    EPSILON_PLACEMENTS = ("corrected", "uncorrected")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        epsilon_placement: str = "corrected",
    ):
        super().__init__(learning_rate)
        self.beta1 = _check_range("beta1", beta1, 0.0, 1.0, low_open=False)
        self.beta2 = _check_range("beta2", beta2, 0.0, 1.0, low_open=False)
        if self.beta1 >= 1.0 or self.beta2 >= 1.0:
            raise ParameterError(
                f"beta1 and beta2 must be below 1; received: beta1={beta1!r}, "
                f"beta2={beta2!r}"
            )
        self.epsilon = _check_range("epsilon", epsilon, 0.0, np.inf, low_open=True)
        if epsilon_placement not in self.EPSILON_PLACEMENTS:
            raise ParameterError(
                "epsilon_placement must be one of "
                f"{', '.join(self.EPSILON_PLACEMENTS)}; received: "
                f"epsilon_placement={epsilon_placement!r}"
            )
        self.epsilon_placement = epsilon_placement

    def _update(self, parameters: NDArray, gradients: NDArray) -> None:
        m = self._state["first_moment"]
        v = self._state["second_moment"]
        m *= self.beta1
        m += (1.0 - self.beta1) * gradients
        v *= self.beta2
        v += (1.0 - self.beta2) * np.square(gradients)

        t = self.iterations
        m_hat_scale = 1.0 / (1.0 - self.beta1**t)
        v_hat_scale = 1.0 / (1.0 - self.beta2**t)
        if self.epsilon_placement == "corrected":
            denominator = np.sqrt(v * v_hat_scale)
            denominator += self.epsilon
            parameters -= (self.learning_rate * m_hat_scale) * m / denominator
        else:
            denominator = np.sqrt(v)
            denominator += self.epsilon
            step_size = self.learning_rate * np.sqrt(1.0 - self.beta2**t) * m_hat_scale
            parameters -= step_size * m / denominator

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "epsilon_placement": self.epsilon_placement,
        }


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam)}


def make_optimizer(name: str, **settings: Any) -> Optimizer:
    """Create the optimizer called ``name`` with keyword hyperparameters."""
    if name not in OPTIMIZERS:
        raise ParameterError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}; "
            f"received: optimizer={name!r}"
        )
    return OPTIMIZERS[name](**settings)
