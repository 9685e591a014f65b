"""The compiled Adam step: equal to the NumPy step bit for bit, and its fallbacks.

Each test that needs Numba skips without it. The ``test`` extra installs it, so
the whole file runs in CI.
"""

import logging
import sys

import numpy as np
import pytest

from mlpkit import MLP, compiled, optimizers
from mlpkit.optimizers import Adam, AdamW

ADAM_FACTORIES = {
    "adam": lambda: Adam(learning_rate=0.01),
    "adam_uncorrected": lambda: Adam(
        learning_rate=0.01, epsilon_placement="uncorrected"
    ),
    "adamw": lambda: AdamW(learning_rate=0.01, beta1=0.8, weight_decay=0.1),
    "adamw_uncorrected": lambda: AdamW(
        learning_rate=0.05,
        beta2=0.99,
        epsilon_placement="uncorrected",
        weight_decay=0.3,
    ),
}


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    """Import Numba and load the kernels anew in every test, compiled path on."""
    monkeypatch.setattr(compiled, "_numba", compiled._NOT_LOADED)
    monkeypatch.setattr(compiled, "_kernels", {})
    monkeypatch.setattr(compiled, "_warned_values", set())
    monkeypatch.setattr(compiled, "_logged_messages", set())
    monkeypatch.setattr(compiled, "_logged_sizes", set())
    monkeypatch.delenv("MLPKIT_COMPILED", raising=False)


@pytest.fixture
def numba():
    return pytest.importorskip("numba")


@pytest.fixture
def cache_folder(numba, tmp_path, monkeypatch):
    """Send Numba's cache of this test's kernels to an empty folder."""
    folder = tmp_path / "numba-cache"
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def numpy_rule_calls(monkeypatch):
    """Count the calls of the NumPy Adam rule, which still runs."""
    calls = []
    numpy_rule = optimizers._adam_rule

    def counted_rule(*arguments):
        calls.append(1)
        numpy_rule(*arguments)

    monkeypatch.setattr(optimizers, "_adam_rule", counted_rule)
    return calls


def hard_gradients(size, dtype, n_steps, seed=5):
    """Return gradients across many magnitudes, with zeros, subnormals and inf."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(n_steps):
        exponents = rng.integers(-40, 30, size)
        values = rng.normal(size=size) * 10.0**exponents
        values[:7] = [0.0, -0.0, 1e-42, -3e-39, np.inf, 1e30, -1e-30]
        steps.append(values.astype(dtype))
    return steps


def run_steps(factory, start, gradients):
    parameters = start.copy()
    optimizer = factory()
    # inf gradients overflow g² and make inf / inf, as intended.
    with np.errstate(over="ignore", invalid="ignore"):
        for gradient in gradients:
            optimizer.step(parameters, gradient)
    return parameters, optimizer.get_state()


def assert_same_steps(first, second):
    parameters, (iterations, state) = first
    other_parameters, (other_iterations, other_state) = second
    np.testing.assert_array_equal(parameters, other_parameters)
    assert iterations == other_iterations
    assert state.keys() == other_state.keys()
    for name in state:
        np.testing.assert_array_equal(state[name], other_state[name], err_msg=name)


def numpy_steps(factory, start, gradients, monkeypatch):
    """Return ``run_steps`` with the compiled path turned off."""
    with monkeypatch.context() as patch:
        patch.setenv("MLPKIT_COMPILED", "0")
        return run_steps(factory, start, gradients)


def assert_numpy_fallback(monkeypatch, numpy_rule_calls):
    """Assert that Adam steps run in NumPy and give the NumPy path's numbers."""
    start = np.linspace(-1.0, 1.0, 50, dtype=np.float32)
    gradients = hard_gradients(50, np.float32, n_steps=3)
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)

    fallback = run_steps(ADAM_FACTORIES["adamw"], start, gradients)

    assert len(numpy_rule_calls) == 3
    assert_same_steps(
        fallback, numpy_steps(ADAM_FACTORIES["adamw"], start, gradients, monkeypatch)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(ADAM_FACTORIES))
def test_compiled_step_equals_numpy_bitwise(case, dtype, numba, monkeypatch):
    start = np.random.default_rng(2).normal(size=2003).astype(dtype)
    gradients = hard_gradients(2003, dtype, n_steps=12)
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)

    with_kernel = run_steps(ADAM_FACTORIES[case], start, gradients)
    with_numpy = numpy_steps(ADAM_FACTORIES[case], start, gradients, monkeypatch)

    assert compiled._kernels[np.dtype(dtype).name] is not None
    assert_same_steps(with_kernel, with_numpy)


def test_compiled_state_resumes_in_numpy(numba, monkeypatch):
    start = np.random.default_rng(4).normal(size=300).astype(np.float32)
    gradients = hard_gradients(300, np.float32, n_steps=6)
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)

    parameters, (iterations, state) = run_steps(
        ADAM_FACTORIES["adam"], start, gradients[:3]
    )
    resumed = ADAM_FACTORIES["adam"]()
    resumed.set_state(iterations, state)
    monkeypatch.setenv("MLPKIT_COMPILED", "0")
    with np.errstate(over="ignore", invalid="ignore"):
        for gradient in gradients[3:]:
            resumed.step(parameters, gradient)

    uninterrupted = run_steps(ADAM_FACTORIES["adam"], start, gradients)
    assert_same_steps((parameters, resumed.get_state()), uninterrupted)


def test_compiled_step_skips_numpy_rule(numba, monkeypatch, numpy_rule_calls):
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    parameters = np.ones(10, dtype=np.float32)

    Adam().step(parameters, np.full(10, 0.5, dtype=np.float32))

    assert numpy_rule_calls == []
    assert np.all(parameters < 1.0)


def test_threshold_is_parameter_count(numba, numpy_rule_calls):
    below = compiled.MIN_COMPILED_SIZE - 1
    Adam().step(np.ones(below, dtype=np.float32), np.ones(below, dtype=np.float32))
    assert numpy_rule_calls == [1] * len(numpy_rule_calls)
    assert len(numpy_rule_calls) >= 1
    assert compiled._numba is compiled._NOT_LOADED

    numpy_rule_calls.clear()
    size = compiled.MIN_COMPILED_SIZE
    Adam().step(np.ones(size, dtype=np.float32), np.ones(size, dtype=np.float32))
    assert numpy_rule_calls == []


@pytest.mark.parametrize("value", ["0", "off", "False", " no "])
def test_environment_variable_turns_kernel_off(value, monkeypatch):
    monkeypatch.setenv("MLPKIT_COMPILED", value)

    assert compiled.adam_kernel(10**9, np.float32) is None
    assert compiled._numba is compiled._NOT_LOADED


@pytest.mark.parametrize("value", ["", "1", "on", " TRUE "])
def test_environment_variable_leaves_kernel_on(value, monkeypatch, caplog):
    monkeypatch.setenv("MLPKIT_COMPILED", value)

    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        assert compiled.compiled_enabled()
    assert caplog.text == ""


def test_unknown_environment_value_warns_once(monkeypatch, caplog):
    monkeypatch.setenv("MLPKIT_COMPILED", "disabled")

    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        assert compiled.compiled_enabled()
        assert compiled.compiled_enabled()

    assert caplog.text.count("MLPKIT_COMPILED='disabled' is invalid") == 1


def test_missing_numba_falls_back_to_numpy(monkeypatch, numpy_rule_calls, caplog):
    monkeypatch.setitem(sys.modules, "numba", None)

    with caplog.at_level(logging.DEBUG, logger="mlpkit.compiled"):
        assert_numpy_fallback(monkeypatch, numpy_rule_calls)

    assert "Numba is not installed" in caplog.text


class BrokenNumbaFinder:
    """An import hook that makes ``import numba`` raise ``error``."""

    def __init__(self, error):
        self.error = error

    def find_spec(self, name, path=None, target=None):
        if name == "numba":
            raise self.error
        return None


@pytest.mark.parametrize(
    "error",
    [
        OSError("Could not find/load shared object file 'libllvmlite.so'"),
        ImportError("Numba needs NumPy 2.5 or less. Got NumPy 2.6."),
        ModuleNotFoundError("No module named 'llvmlite'", name="llvmlite"),
    ],
    ids=["missing_library", "numpy_too_new", "missing_dependency"],
)
def test_broken_numba_falls_back_to_numpy(error, monkeypatch, numpy_rule_calls, caplog):
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenNumbaFinder(error), *sys.meta_path])

    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        assert_numpy_fallback(monkeypatch, numpy_rule_calls)

    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1
    assert warnings[0].startswith("importing Numba failed")
    assert f"{type(error).__name__}: {error}" in warnings[0]
    assert "\n" not in warnings[0]


def test_numpy_path_reasons_logged_once(monkeypatch, caplog):
    with caplog.at_level(logging.DEBUG, logger="mlpkit.compiled"):
        for _ in range(3):
            assert compiled.adam_kernel(5, np.float32) is None
        monkeypatch.setenv("MLPKIT_COMPILED", "0")
        for _ in range(3):
            assert compiled.adam_kernel(10**6, np.float32) is None

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Adam steps on 5 parameters use NumPy: the compiled step starts at 100,000",
        "MLPKIT_COMPILED is off, so Adam steps use NumPy",
    ]


def test_disabled_jit_falls_back_to_numpy(numba, monkeypatch, numpy_rule_calls):
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)

    assert_numpy_fallback(monkeypatch, numpy_rule_calls)


def test_kernel_cached_in_cache_folder(cache_folder, monkeypatch, caplog):
    with caplog.at_level(logging.DEBUG, logger="mlpkit.compiled"):
        kernel = compiled.adam_kernel(10**6, np.float32)

    assert kernel is not None
    assert sorted(path.suffix for path in cache_folder.rglob("*_adam_loop*")) == [
        ".nbc",
        ".nbi",
    ]
    assert "run compiled by Numba" in caplog.text


def test_uncachable_kernel_compiles_without_cache(numba, monkeypatch, caplog):
    real_njit = numba.njit
    requested = []

    def njit(**options):
        requested.append(options.get("cache", False))
        if options.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(**options)

    monkeypatch.setattr(numba, "njit", njit)
    with caplog.at_level(logging.DEBUG, logger="mlpkit.compiled"):
        kernel = compiled.adam_kernel(10**6, np.float64)

    assert requested == [True, False]
    assert kernel is not None
    assert "no writable cache folder" in caplog.text


@pytest.mark.parametrize("damaged", [".nbi", ".nbc"])
def test_damaged_cache_cleared_and_rebuilt(damaged, cache_folder, monkeypatch, caplog):
    assert compiled.adam_kernel(10**6, np.float32) is not None
    (path,) = cache_folder.rglob(f"*_adam_loop*{damaged}")
    path.write_bytes(b"not a cache file")

    monkeypatch.setattr(compiled, "_kernels", {})
    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        kernel = compiled.adam_kernel(10**6, np.float32)
    assert kernel is not None
    assert caplog.text.count("could not be read or written") == 1
    assert "the next run rebuilds it" in caplog.text

    start = np.linspace(-1.0, 1.0, 40, dtype=np.float32)
    gradients = hard_gradients(40, np.float32, n_steps=3)
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    with_kernel = run_steps(ADAM_FACTORIES["adam"], start, gradients)
    assert_same_steps(
        with_kernel, numpy_steps(ADAM_FACTORIES["adam"], start, gradients, monkeypatch)
    )

    # A later process finds the cleared cache and writes it again.
    caplog.clear()
    monkeypatch.setattr(compiled, "_kernels", {})
    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        assert compiled.adam_kernel(10**6, np.float32) is not None
    assert caplog.text == ""


def test_failed_cache_write_compiles_without_cache(
    cache_folder, numba, monkeypatch, caplog
):
    from numba.core.caching import Cache

    def full_disk(self, signature, data):
        raise OSError(27, "File too large")

    monkeypatch.setattr(Cache, "save_overload", full_disk)
    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        kernel = compiled.adam_kernel(10**6, np.float64)

    assert kernel is not None
    assert caplog.text.count("could not be read or written") == 1
    assert "File too large" in caplog.text


def test_failure_outside_cache_keeps_cache(cache_folder, monkeypatch, caplog):
    assert compiled.adam_kernel(10**6, np.float32) is not None
    index = next(cache_folder.rglob("*_adam_loop*.nbi"))
    contents = index.read_bytes()

    def broken_numba(kernel, dtype):
        raise SyntaxError("invalid syntax (mathimpl.py, line 400)")

    monkeypatch.setattr(compiled, "_kernels", {})
    monkeypatch.setattr(compiled, "_warm_up", broken_numba)
    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        assert compiled.adam_kernel(10**6, np.float32) is None

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("compiling the Adam step failed")
    assert index.read_bytes() == contents


def test_failed_compilation_falls_back_to_numpy(
    numba, monkeypatch, numpy_rule_calls, caplog
):
    def uncompilable(parameters, *arguments):
        parameters[0] = "text"

    monkeypatch.setattr(compiled, "_adam_loop", uncompilable)
    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        assert_numpy_fallback(monkeypatch, numpy_rule_calls)

    assert caplog.text.count("compiling the Adam step failed") == 1
    assert "could not be read or written" not in caplog.text
    assert compiled._kernels == {"float32": None}


def test_subclass_with_own_rule_skips_kernel(numba, monkeypatch):
    class HalfStepAdam(Adam):
        def _update(self, parameters, gradients, state):
            super()._update(parameters, gradients * 0.5, state)

    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    start = np.ones(20, dtype=np.float64)

    halved = run_steps(HalfStepAdam, start, [np.full(20, 2.0)])
    plain = run_steps(lambda: Adam(), start, [np.full(20, 1.0)])

    assert_same_steps(halved, plain)


def read_only(values):
    values.flags.writeable = False
    return values


@pytest.mark.parametrize(
    "gradients",
    [
        np.full(10, 0.5, dtype=np.float64),
        read_only(np.full(10, 0.5, dtype=np.float32)),
        np.full(20, 0.5, dtype=np.float32)[::2],
    ],
    ids=["mixed_dtypes", "read_only", "strided"],
)
def test_unusual_arrays_take_numpy_path(
    gradients, numba, monkeypatch, numpy_rule_calls
):
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    parameters = np.ones(10, dtype=np.float32)

    Adam().step(parameters, gradients)

    assert numpy_rule_calls == [1]
    assert np.all(parameters < 1.0)


@pytest.mark.filterwarnings("ignore::mlpkit.errors.ConvergenceWarning")
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_training_same_with_and_without_kernel(optimizer, numba, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    settings = {
        "hidden_layers": (16, 8),
        "optimizer": optimizer,
        "max_epochs": 4,
        "batch_size": 16,
    }
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)

    with_kernel = MLP(**settings).fit(X, y)
    assert compiled._kernels["float32"] is not None
    monkeypatch.setenv("MLPKIT_COMPILED", "0")
    with_numpy = MLP(**settings).fit(X, y)

    np.testing.assert_array_equal(
        with_kernel.network_.parameters, with_numpy.network_.parameters
    )
    np.testing.assert_array_equal(
        with_kernel.predict_proba(X), with_numpy.predict_proba(X)
    )
