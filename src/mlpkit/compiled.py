"""Compiled update rules, used when Numba is installed (``pip install mlpkit[fast]``).

NumPy runs Adam's step as thirteen vector operations, and each of them reads
and writes whole buffers. Over the 235,146 parameters of a 784-256-128-10
network that is about 0.27 ms per step on a 2-core AMD EPYC, a quarter of a
training epoch. The loop here does the same arithmetic in one pass over the
buffers, in about 0.05 ms (``benchmarks/breakdown.py``).

The loop applies the operations of :meth:`mlpkit.optimizers.Adam._update` in
the same order, each rounded to the parameters' dtype. Numba does not fuse a
product and a sum into one FMA unless asked to, so the results equal the NumPy
path's bit for bit, and the tests compare the two. The NumPy path stays the
reference and is used for buffers below ``MIN_COMPILED_SIZE``, when Numba is
missing or fails, and when the environment variable ``MLPKIT_COMPILED`` is
``0``.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

#: Parameter count below which the NumPy path runs. Importing Numba and loading
#: the cached loop take about 0.4 s and 120 MiB of memory, and compiling it
#: takes 0.5 s more (2-core AMD EPYC, Numba 0.68). At 100,000 parameters a
#: compiled step saves about 0.09 ms, so the load pays for itself within a few
#: thousand steps. Smaller networks would wait longer for it.
MIN_COMPILED_SIZE = 100_000

#: Values of ``MLPKIT_COMPILED`` that turn the compiled path off.
OFF_VALUES = ("0", "false", "no", "off")

_NOT_LOADED = object()
_adam_kernel: object = _NOT_LOADED


def _adam_loop(
    parameters,
    gradients,
    first_moment,
    second_moment,
    decay,
    beta1,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    second_moment_scale,
    epsilon,
    step_scale,
):
    """Apply one Adam or AdamW step to every element, in place.

    Per element, with every coefficient in the parameters' dtype::

        m ← β₁ m + (1 − β₁) g
        v ← β₂ v + (1 − β₂) g²
        θ ← decay·θ − (s m) / (√(c v) + ε)

    ``decay`` is 1 for Adam. ``c`` and ``s`` carry the bias corrections and the
    learning rate, as :meth:`mlpkit.optimizers.Adam.coefficients` returns them.
    """
    for i in range(parameters.shape[0]):
        gradient = gradients[i]
        first = first_moment[i] * beta1 + gradient * one_minus_beta1
        second = second_moment[i] * beta2 + (gradient * gradient) * one_minus_beta2
        first_moment[i] = first
        second_moment[i] = second
        denominator = np.sqrt(second * second_moment_scale) + epsilon
        parameters[i] = parameters[i] * decay - (first * step_scale) / denominator


def _compile(function: Callable) -> Callable | None:
    """Return ``function`` compiled by Numba, or None where Numba is unusable."""
    try:
        import numba
    except ImportError:
        logger.debug("Numba is not installed, so Adam steps use NumPy")
        return None
    if numba.config.DISABLE_JIT:
        # With the JIT off, Numba would run the loop as Python, one element at
        # a time.
        logger.debug("NUMBA_DISABLE_JIT is set, so Adam steps use NumPy")
        return None
    # error_model="numpy" makes a division by zero return inf or nan, as NumPy
    # does, instead of raising, which also lets the loop be vectorized.
    options = {"nogil": True, "error_model": "numpy"}
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError as error:
        # Numba raises this when neither the package folder nor its user cache
        # folder is writable. The kernel then compiles in every process.
        logger.debug(
            "Numba cannot cache compiled code, so the Adam step compiles in every "
            "process: %s",
            error,
        )
        return numba.njit(**options)(function)


def compiled_enabled() -> bool:
    """Return False when ``MLPKIT_COMPILED`` turns compiled update rules off."""
    value = os.environ.get("MLPKIT_COMPILED", "").strip().lower()
    return value not in OFF_VALUES


def adam_kernel(size: int) -> Callable | None:
    """Return the compiled Adam loop for a buffer of ``size`` values, or None.

    None means the caller runs its NumPy path: for small buffers, when
    ``MLPKIT_COMPILED`` is off, or when Numba is missing or failed to load.
    """
    global _adam_kernel
    if size < MIN_COMPILED_SIZE or not compiled_enabled():
        return None
    if _adam_kernel is _NOT_LOADED:
        _adam_kernel = _compile(_adam_loop)
    return _adam_kernel


def run_adam_kernel(kernel: Callable, arrays: tuple, coefficients: tuple) -> bool:
    """Run ``kernel`` on ``arrays`` and return False if Numba could not compile it.

    A compilation failure turns the compiled path off for the process and is
    logged once. Numba compiles before the loop starts, so the arrays are then
    untouched and the caller can take its NumPy path.
    """
    global _adam_kernel
    from numba.core.errors import NumbaError

    dtype = arrays[0].dtype
    try:
        kernel(*arrays, *(dtype.type(value) for value in coefficients))
    except NumbaError as error:
        logger.warning(
            "compiling the Adam step failed, so Adam steps use NumPy: %s", error
        )
        _adam_kernel = None
        return False
    return True
