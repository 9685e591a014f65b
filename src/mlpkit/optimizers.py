"""Optimizers: the update step of gradient descent, on flat parameter buffers.

Every optimizer updates the network's whole ``parameters`` vector from its
``gradients`` vector in place, so a step costs a few vector operations
whatever the number of layers. State (velocities, moments, the step count)
lives in the optimizer and is exposed through ``get_state`` and ``set_state``
so it can be saved with a model. Every state array has the shape of
``parameters``.

The optimizers are :class:`SGD` (with optional momentum or Nesterov momentum),
:class:`Adam`, :class:`AdamW`, :class:`RMSprop`, :class:`Adagrad` and
:class:`Adadelta`. Each follows the update rule of its ``torch.optim``
namesake, written out in its docstring. Full-batch L-BFGS is not a step rule
and lives in :mod:`mlpkit.lbfgs`, and learning-rate schedules that change
``learning_rate`` between steps live in :mod:`mlpkit.schedules`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import compiled
from .errors import ParameterError


def _check_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float, or raise ParameterError outside the range.

    ``low_open`` and ``high_open`` exclude the bound at that end, so the range
    is ``[low, high]`` with neither and ``(low, high)`` with both. Text and
    booleans are rejected even where float() would convert them.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise ParameterError(
            f"{name} must be a number; received: {name}={value!r}", parameter=name
        )
    value = float(value)
    above_low = value > low if low_open else value >= low
    below_high = value < high if high_open else value <= high
    if not (np.isfinite(value) and above_low and below_high):
        if np.isinf(high) and low_open and low == 0.0:
            expected = "a positive finite number"
        elif np.isinf(high):
            relation = "above" if low_open else "of at least"
            expected = f"a finite number {relation} {low:g}"
        else:
            low_bracket = "(" if low_open else "["
            high_bracket = ")" if high_open else "]"
            expected = f"in {low_bracket}{low}, {high}{high_bracket}"
        raise ParameterError(
            f"{name} must be {expected}; received: {name}={value!r}", parameter=name
        )
    return value


def _check_flag(name: str, value: Any) -> bool:
    """Return ``value`` as a bool, or raise ParameterError unless it is a bool.

    ``np.bool_`` passes. Text such as ``"no"`` does not, because bool() would
    read it as True.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(
            f"{name} must be True or False; received: {name}={value!r}", parameter=name
        )
    return bool(value)


#: Bytes of the parameter buffer that one call of an update rule covers. A
#: slice of this size, with its state and temporaries, fits in the second-level
#: cache of current x86 and ARM cores. On a 2-core Xeon with 2 MiB of L2 per
#: core, an Adam step over 235,146 float32 parameters took about 0.43 ms in
#: 256 KiB slices and 0.6 to 1.4 ms in one piece (several runs, shared machine).
UPDATE_CHUNK_BYTES = 256 * 1024


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
        """Update ``parameters`` in place from ``gradients``.

        Every update rule is elementwise, so the buffers are updated one slice
        of ``UPDATE_CHUNK_BYTES`` at a time. The slice and the temporaries of
        its vector operations then stay in the processor's cache, instead of
        whole buffers streaming from memory once per operation. Each element
        goes through the same operations as in a whole-buffer update, so the
        result is the same bit for bit.
        """
        if not self._state and self.state_names:
            self._state = self._initial_state(parameters)
        self.iterations += 1
        if self._compiled_step(parameters, gradients):
            return
        chunk = max(1, UPDATE_CHUNK_BYTES // parameters.itemsize)
        if parameters.size <= chunk:
            self._update(parameters, gradients, self._state)
            return
        for start in range(0, parameters.size, chunk):
            part = slice(start, start + chunk)
            state = {name: values[part] for name, values in self._state.items()}
            self._update(parameters[part], gradients[part], state)

    def _compiled_step(self, parameters: NDArray, gradients: NDArray) -> bool:
        """Update with a compiled loop and return True, or return False.

        Rules without a compiled loop return False, and ``step`` then calls
        ``_update`` slice by slice.
        """
        return False

    def _initial_state(self, parameters: NDArray) -> dict[str, NDArray]:
        """Return the state arrays before the first step: zeros unless overridden."""
        return {name: np.zeros_like(parameters) for name in self.state_names}

    def _update(
        self, parameters: NDArray, gradients: NDArray, state: dict[str, NDArray]
    ) -> None:
        """Apply the update rule to one slice of the parameters.

        ``state`` contains the same slice of every state array. The rule must be
        elementwise, so that slices can be updated one after another.
        """
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
        self.nesterov = _check_flag("nesterov", nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ParameterError(
                "nesterov momentum needs momentum > 0; received: momentum=0.0"
            )
        self.state_names = ("velocity",) if self.momentum > 0 else ()

    def _update(
        self, parameters: NDArray, gradients: NDArray, state: dict[str, NDArray]
    ) -> None:
        if self.momentum == 0.0:
            parameters -= self.learning_rate * gradients
            return
        velocity = state["velocity"]
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

    def coefficients(self) -> tuple[float, ...]:
        """Return the coefficients of the current step, for :func:`_adam_rule`.

        They are ``(decay, β₁, 1 − β₁, β₂, 1 − β₂, c, ε, s)`` in the rule
        ``θ ← decay·θ − (s m) / (√(c v) + ε)``. For the corrected placement
        ``c = 1 / (1 − β₂ᵗ)`` and ``s = η / (1 − β₁ᵗ)``; for the uncorrected
        one ``c = 1`` and ``s = η √(1 − β₂ᵗ) / (1 − β₁ᵗ)``. ``decay`` is 1
        except in :class:`AdamW`.
        """
        t = self.iterations
        m_hat_scale = 1.0 / (1.0 - self.beta1**t)
        if self.epsilon_placement == "corrected":
            second_moment_scale = 1.0 / (1.0 - self.beta2**t)
            step_scale = self.learning_rate * m_hat_scale
        else:
            second_moment_scale = 1.0
            step_scale = (
                self.learning_rate * math.sqrt(1.0 - self.beta2**t) * m_hat_scale
            )
        return (
            self._decay(),
            self.beta1,
            1.0 - self.beta1,
            self.beta2,
            1.0 - self.beta2,
            second_moment_scale,
            self.epsilon,
            step_scale,
        )

    def _decay(self) -> float:
        """Return the factor that scales the parameters before the update."""
        return 1.0

    def _update(
        self, parameters: NDArray, gradients: NDArray, state: dict[str, NDArray]
    ) -> None:
        _adam_rule(
            parameters,
            gradients,
            state["first_moment"],
            state["second_moment"],
            self.coefficients(),
        )

    def _compiled_step(self, parameters: NDArray, gradients: NDArray) -> bool:
        if type(self)._update is not Adam._update:
            # A subclass changed the rule, which the compiled loop would skip.
            return False
        arrays = (
            parameters,
            gradients,
            self._state["first_moment"],
            self._state["second_moment"],
        )
        if not _plain_float_vectors(arrays):
            return False
        kernel = compiled.adam_kernel(parameters.size, parameters.dtype)
        if kernel is None:
            return False
        compiled.run_adam_kernel(kernel, arrays, self.coefficients())
        return True

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "epsilon_placement": self.epsilon_placement,
        }


def _adam_rule(
    parameters: NDArray,
    gradients: NDArray,
    first_moment: NDArray,
    second_moment: NDArray,
    coefficients: tuple[float, ...],
) -> None:
    """Apply ``θ ← decay·θ − (s m) / (√(c v) + ε)`` after updating the moments.

    ``coefficients`` is what :meth:`Adam.coefficients` returns. Two scratch
    arrays carry every intermediate result, in the order of the formulas, so
    the numbers are those of the plain expressions and of the compiled loop in
    :mod:`mlpkit.compiled`.
    """
    decay, beta1, one_minus_beta1, beta2, one_minus_beta2 = coefficients[:5]
    second_moment_scale, epsilon, step_scale = coefficients[5:]
    if decay != 1.0:
        parameters *= decay
    scratch = np.multiply(gradients, one_minus_beta1)
    first_moment *= beta1
    first_moment += scratch
    np.square(gradients, out=scratch)
    scratch *= one_minus_beta2
    second_moment *= beta2
    second_moment += scratch

    denominator = scratch
    if second_moment_scale != 1.0:
        np.multiply(second_moment, second_moment_scale, out=denominator)
        np.sqrt(denominator, out=denominator)
    else:
        # Multiplying by exactly 1 changes nothing, so it is skipped.
        np.sqrt(second_moment, out=denominator)
    denominator += epsilon
    step = np.multiply(first_moment, step_scale)
    step /= denominator
    parameters -= step


def _plain_float_vectors(arrays: tuple[NDArray, ...]) -> bool:
    """Return True if the arrays are float vectors of one dtype, size and layout.

    The compiled loop takes only writable, aligned, C-contiguous vectors, the
    layout it was compiled for. Anything else goes through NumPy, whose
    casting rules decide what mixed dtypes give.
    """
    first = arrays[0]
    return first.dtype in (np.float32, np.float64) and all(
        array.dtype == first.dtype
        and array.ndim == 1
        and array.shape == first.shape
        and array.flags.writeable
        and array.flags.c_contiguous
        and array.flags.aligned
        for array in arrays
    )


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Before the Adam update of :class:`Adam` (with the same ``epsilon_placement``
    choice), every parameter shrinks toward zero::

        θ ← θ − η λ θ

    with weight decay ``λ``. The decay does not pass through the moments, which
    is what sets it apart from an L2 penalty added to the loss. Because ``η``
    multiplies ``λ``, a learning-rate schedule also scales the decay, as in
    PyTorch. Loshchilov and Hutter's paper ("Decoupled Weight Decay
    Regularization", 2019) multiplies ``λ`` by the schedule's factor alone, not
    by the learning rate. The optimizer receives one flat vector, so biases decay
    like weights, as in PyTorch when it is given every parameter of a model.
    """

    name = "adamw"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        epsilon_placement: str = "corrected",
        weight_decay: float = 0.01,
    ):
        super().__init__(learning_rate, beta1, beta2, epsilon, epsilon_placement)
        self.weight_decay = _check_range(
            "weight_decay", weight_decay, 0.0, np.inf, low_open=False
        )

    def _decay(self) -> float:
        return 1.0 - self.learning_rate * self.weight_decay

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """RMSprop: steps scaled by a running root mean square of the gradients.

    With decay rate ``ρ`` (``alpha`` in ``torch.optim.RMSprop``, whose rule
    this follows), a squared-gradient average ``s`` and gradient ``g``::

        s ← ρ s + (1 − ρ) g²
        r = √s + ε                      (plain)
        r = √(s − ḡ²) + ε               (centered, after ḡ ← ρ ḡ + (1 − ρ) g)
        θ ← θ − η g / r                 (without momentum)
        v ← μ v + g / r,  θ ← θ − η v   (with momentum μ)

    ``ε`` is added after the square root, as PyTorch does. The centered form
    divides by an estimate of the gradient's standard deviation instead of its
    root mean square. It clips ``s − ḡ²`` at zero, a value that only rounding
    can make negative, where PyTorch would produce NaN.

    ``ρ`` must be in [0, 1). PyTorch 2.13 accepts any ``alpha ≥ 0``, but at
    ``ρ = 1`` the average ``s`` stays at its initial zero, so every step is
    ``η g / ε`` and training diverges.
    """

    name = "rmsprop"

    def __init__(
        self,
        learning_rate: float = 0.01,
        rho: float = 0.99,
        momentum: float = 0.0,
        epsilon: float = 1e-8,
        centered: bool = False,
    ):
        super().__init__(learning_rate)
        self.rho = _check_range("rho", rho, 0.0, 1.0, low_open=False, high_open=True)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0, low_open=False)
        self.epsilon = _check_range("epsilon", epsilon, 0.0, np.inf, low_open=True)
        self.centered = _check_flag("centered", centered)
        names = ["square_average"]
        if self.centered:
            names.append("gradient_average")
        if self.momentum > 0:
            names.append("velocity")
        self.state_names = tuple(names)

    def _update(
        self, parameters: NDArray, gradients: NDArray, state: dict[str, NDArray]
    ) -> None:
        square_average = state["square_average"]
        square_average *= self.rho
        square_average += (1.0 - self.rho) * np.square(gradients)

        if self.centered:
            gradient_average = state["gradient_average"]
            gradient_average *= self.rho
            gradient_average += (1.0 - self.rho) * gradients
            variance = square_average - np.square(gradient_average)
            # The variance is never negative in exact arithmetic, but rounding
            # can make it so once the gradient is nearly constant. PyTorch then
            # takes the root of a negative number and gets NaN.
            np.maximum(variance, 0.0, out=variance)
            root = np.sqrt(variance)
        else:
            root = np.sqrt(square_average)
        root += self.epsilon

        if self.momentum == 0.0:
            parameters -= self.learning_rate * gradients / root
            return
        velocity = state["velocity"]
        velocity *= self.momentum
        velocity += gradients / root
        parameters -= self.learning_rate * velocity

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad: steps divided by the root of all squared gradients so far.

    With a sum of squared gradients ``G`` (starting at
    ``initial_accumulator_value``), following ``torch.optim.Adagrad``, at step
    ``t``::

        ηₜ = η / (1 + (t − 1) κ)        (κ = learning_rate_decay)
        G ← G + g²
        θ ← θ − ηₜ g / (√G + ε)

    ``G`` only grows, so each parameter's step shrinks over training.
    """

    name = "adagrad"
    state_names = ("sum_of_squares",)

    def __init__(
        self,
        learning_rate: float = 0.01,
        epsilon: float = 1e-10,
        initial_accumulator_value: float = 0.0,
        learning_rate_decay: float = 0.0,
    ):
        super().__init__(learning_rate)
        self.epsilon = _check_range("epsilon", epsilon, 0.0, np.inf, low_open=True)
        self.initial_accumulator_value = _check_range(
            "initial_accumulator_value",
            initial_accumulator_value,
            0.0,
            np.inf,
            low_open=False,
        )
        self.learning_rate_decay = _check_range(
            "learning_rate_decay", learning_rate_decay, 0.0, np.inf, low_open=False
        )

    def _initial_state(self, parameters: NDArray) -> dict[str, NDArray]:
        return {
            "sum_of_squares": np.full_like(parameters, self.initial_accumulator_value)
        }

    def _update(
        self, parameters: NDArray, gradients: NDArray, state: dict[str, NDArray]
    ) -> None:
        sum_of_squares = state["sum_of_squares"]
        sum_of_squares += np.square(gradients)

        decay = 1.0 + (self.iterations - 1) * self.learning_rate_decay
        root = np.sqrt(sum_of_squares)
        root += self.epsilon
        parameters -= (self.learning_rate / decay) * gradients / root

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "initial_accumulator_value": self.initial_accumulator_value,
            "learning_rate_decay": self.learning_rate_decay,
        }


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): a per-parameter rate from two running averages.

    With decay rate ``ρ``, running averages ``E[g²]`` of squared gradients and
    ``E[Δ²]`` of squared updates, following ``torch.optim.Adadelta``::

        E[g²] ← ρ E[g²] + (1 − ρ) g²
        Δ = √(E[Δ²] + ε) / √(E[g²] + ε) · g
        E[Δ²] ← ρ E[Δ²] + (1 − ρ) Δ²
        θ ← θ − η Δ

    ``ε`` sits inside both square roots, and ``E[Δ²]`` accumulates ``Δ``
    before the learning rate scales it. Zeiler's rule has no learning rate,
    which is ``η = 1``, the default.

    The defaults ``ρ = 0.9`` and ``ε = 1e-6`` are PyTorch's. H2O-3's deep
    learning (``adaptive_rate=True``) uses this rule with ``ρ = 0.99`` and
    ``ε = 1e-8`` by default and ignores its learning rate, so
    ``Adadelta(learning_rate=1.0, rho=0.99, epsilon=1e-8)`` gives H2O's update.

    ``ρ`` must be in [0, 1), although PyTorch 2.13 accepts ``ρ = 1``. At
    ``ρ = 1`` both averages stay at their initial zero, so ``Δ = √ε / √ε · g
    = g`` and every step is plain SGD, ``θ ← θ − η g``, with nothing adaptive
    left.
    """

    name = "adadelta"
    state_names = ("square_average", "delta_square_average")

    def __init__(
        self, learning_rate: float = 1.0, rho: float = 0.9, epsilon: float = 1e-6
    ):
        super().__init__(learning_rate)
        self.rho = _check_range("rho", rho, 0.0, 1.0, low_open=False, high_open=True)
        self.epsilon = _check_range("epsilon", epsilon, 0.0, np.inf, low_open=True)

    def _update(
        self, parameters: NDArray, gradients: NDArray, state: dict[str, NDArray]
    ) -> None:
        square_average = state["square_average"]
        delta_square_average = state["delta_square_average"]
        square_average *= self.rho
        square_average += (1.0 - self.rho) * np.square(gradients)

        delta = np.sqrt(delta_square_average + self.epsilon)
        delta /= np.sqrt(square_average + self.epsilon)
        delta *= gradients
        delta_square_average *= self.rho
        delta_square_average += (1.0 - self.rho) * np.square(delta)

        parameters -= self.learning_rate * delta

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta)
}


def make_optimizer(name: str, **settings: Any) -> Optimizer:
    """Create the optimizer called ``name`` with keyword hyperparameters."""
    if name not in OPTIMIZERS:
        raise ParameterError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}; "
            f"received: optimizer={name!r}",
            parameter="optimizer",
        )
    return OPTIMIZERS[name](**settings)
