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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

#: Parameter count below which the NumPy path runs. Importing Numba and loading
#: the cached loop take 0.25 to 0.4 s and 100 to 120 MiB of memory, and
#: compiling it 0.35 to 0.5 s more (measured on a 2-core AMD EPYC, Numba 0.68).
#: At 100,000 parameters a compiled step saves about 0.09 ms, so the load pays
#: for itself within a few thousand steps. Smaller networks would wait longer.
MIN_COMPILED_SIZE = 100_000

#: Values of ``MLPKIT_COMPILED`` that turn the compiled path off and on. Case
#: and surrounding spaces do not matter, and unset means on.
OFF_VALUES = ("0", "false", "no", "off")
ON_VALUES = ("", "1", "true", "yes", "on")

_NOT_LOADED = object()
_numba: Any = _NOT_LOADED
#: The kernel for each dtype name, once loaded, or None where loading failed.
_kernels: dict[str, Callable | None] = {}
_warned_values: set[str] = set()
_logged_messages: set[str] = set()
_logged_sizes: set[int] = set()


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


def compiled_enabled() -> bool:
    """Return False when ``MLPKIT_COMPILED`` turns compiled update rules off.

    An unknown value leaves them on, with a warning logged once per value.
    """
    raw = os.environ.get("MLPKIT_COMPILED", "")
    value = raw.strip().lower()
    if value in OFF_VALUES:
        return False
    if value not in ON_VALUES and raw not in _warned_values:
        _warned_values.add(raw)
        logger.warning(
            "MLPKIT_COMPILED=%r is invalid, so the compiled Adam step stays on. "
            "Set it to 0, false, no or off to turn the step off.",
            raw,
        )
    return True


def adam_kernel(size: int, dtype: npt.DTypeLike) -> Callable | None:
    """Return the compiled Adam loop for ``size`` values of ``dtype``, or None.

    None means the caller runs its NumPy path: for small buffers, when
    ``MLPKIT_COMPILED`` is off, or when Numba is missing or cannot compile the
    loop. A returned kernel has already run once on empty arrays of ``dtype``,
    so calling it on C-contiguous arrays of that dtype compiles nothing more.
    """
    if size < MIN_COMPILED_SIZE:
        # Checked first and without formatting, because small networks call
        # this on every step.
        if size not in _logged_sizes:
            _logged_sizes.add(size)
            logger.debug(
                "Adam steps on %s parameters use NumPy: the compiled step starts "
                "at %s",
                f"{size:,}",
                f"{MIN_COMPILED_SIZE:,}",
            )
        return None
    if not compiled_enabled():
        _debug_once("MLPKIT_COMPILED is off, so Adam steps use NumPy")
        return None
    name = np.dtype(dtype).name
    if name not in _kernels:
        _kernels[name] = _load_kernel(np.dtype(dtype))
    return _kernels[name]


def run_adam_kernel(kernel: Callable, arrays: tuple, coefficients: tuple) -> None:
    """Call ``kernel`` on ``arrays`` with ``coefficients`` in the arrays' dtype."""
    scalar = arrays[0].dtype.type
    kernel(*arrays, *(scalar(value) for value in coefficients))


def _import_numba() -> Any:
    """Return the numba module, or None where it is missing or fails to import."""
    global _numba
    if _numba is not _NOT_LOADED:
        return _numba
    try:
        import numba
    except Exception as error:
        if isinstance(error, ModuleNotFoundError) and error.name == "numba":
            logger.debug("Numba is not installed, so Adam steps use NumPy")
        else:
            # A broken install fails in many ways: a missing libllvmlite.so
            # raises OSError, a missing llvmlite ModuleNotFoundError, and a
            # NumPy newer than Numba supports ImportError.
            logger.warning(
                "importing Numba failed, so Adam steps use NumPy: %s",
                _describe(error),
            )
            logger.debug("traceback of the failed Numba import:", exc_info=error)
        numba = None
    if numba is not None and numba.config.DISABLE_JIT:
        # With the JIT off, Numba would run the loop as Python, one element at
        # a time.
        logger.debug("NUMBA_DISABLE_JIT is set, so Adam steps use NumPy")
        numba = None
    _numba = numba
    return numba


def _load_kernel(dtype: np.dtype) -> Callable | None:
    """Compile the Adam loop for ``dtype``, or return None if that fails.

    The loop is first loaded from Numba's cache or compiled into it. If that
    fails but compiling without the cache works, the cache was at fault: it
    is cleared, so the next process rebuilds it, and this process keeps the
    uncached loop, which costs about 0.35 s to compile.
    """
    numba = _import_numba()
    if numba is None:
        return None
    # error_model="numpy" makes a division by zero return inf or nan, as NumPy
    # does, instead of raising, which also lets the loop be vectorized.
    options = {"nogil": True, "error_model": "numpy"}
    try:
        cached_kernel = numba.njit(cache=True, **options)(_adam_loop)
    except RuntimeError as error:
        # Numba raises this when no cache folder is writable: neither
        # NUMBA_CACHE_DIR, nor the package folder, nor ~/.cache/numba.
        logger.debug(
            "Numba has no writable cache folder, so the Adam step compiles in "
            "every process: %s",
            error,
        )
        cached_kernel = None
    cache_error = None
    if cached_kernel is not None:
        try:
            _warm_up(cached_kernel, dtype)
        except Exception as error:
            # A damaged cache file raises EOFError or UnpicklingError, and a
            # failed write raises OSError.
            cache_error = error
        else:
            _log_compiled(dtype, numba)
            return cached_kernel

    try:
        kernel = numba.njit(**options)(_adam_loop)
        _warm_up(kernel, dtype)
    except Exception as error:  # Numba and LLVM errors share no narrower base.
        logger.warning(
            "compiling the Adam step failed, so Adam steps use NumPy: %s",
            _describe(error),
        )
        logger.debug("traceback of the failed compilation:", exc_info=error)
        return None
    if cache_error is not None:
        cleared = _clear_cache(cached_kernel)
        logger.warning(
            "Numba's cache of the Adam step could not be read or written, so "
            "the step compiles without it (%s). %s",
            _describe(cache_error),
            "The cache was cleared, and the next run rebuilds it."
            if cleared
            else f"Delete the compiled._adam_loop files {_cache_folder(numba)}.",
        )
    _log_compiled(dtype, numba)
    return kernel


def _log_compiled(dtype: np.dtype, numba: Any) -> None:
    logger.debug("Adam steps on %s run compiled by Numba %s", dtype, numba.__version__)


def _describe(error: BaseException) -> str:
    """Return the error's type and the first line of its message."""
    lines = str(error).strip().splitlines()
    name = type(error).__name__
    return f"{name}: {lines[0]}" if lines else name


def _debug_once(message: str) -> None:
    """Log ``message`` at DEBUG level the first time it comes in this process."""
    if message not in _logged_messages:
        _logged_messages.add(message)
        logger.debug(message)


def _clear_cache(kernel: Any) -> bool:
    """Empty the cache index of ``kernel`` and return True if that worked."""
    cache = getattr(kernel, "_cache", None)
    try:
        cache.flush()
    except Exception:  # An unwritable or vanished folder. The caller logs it.
        return False
    return True


def _warm_up(kernel: Callable, dtype: np.dtype) -> None:
    """Compile ``kernel`` for ``dtype`` by running it on empty arrays.

    Loading from the cache, compiling and saving to the cache all happen here,
    so their failures surface before any parameter is touched.
    """
    empty = tuple(np.zeros(0, dtype=dtype) for _ in range(4))
    run_adam_kernel(kernel, empty, (1.0,) * 8)


def _cache_folder(numba: Any) -> str:
    """Return the folders where Numba may cache this module's compiled code."""
    if numba.config.CACHE_DIR:
        return f"in {numba.config.CACHE_DIR}"
    return f"in {Path(__file__).parent / '__pycache__'} or in ~/.cache/numba"
