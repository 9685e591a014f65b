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
    "adam_uncorrected": lambda: Adam(learning_rate=0.01, epsilon_placement="uncorrected"),
    "adamw": lambda: AdamW(learning_rate=0.01, beta1=0.8, weight_decay=0.1),
    "adamw_uncorrected": lambda: AdamW(
        learning_rate=0.05, beta2=0.99, epsilon_placement="uncorrected", weight_decay=0.3
    ),
}


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    """Load the kernel anew in every test, with the compiled path allowed."""
    monkeypatch.setattr(compiled, "_adam_kernel", compiled._NOT_LOADED)
    monkeypatch.delenv("MLPKIT_COMPILED", raising=False)


@pytest.fixture
def numba():
    return pytest.importorskip("numba")


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(ADAM_FACTORIES))
def test_compiled_step_equals_numpy_bitwise(case, dtype, numba, monkeypatch):
    start = np.random.default_rng(2).normal(size=2003).astype(dtype)
    gradients = hard_gradients(2003, dtype, n_steps=12)

    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    with_kernel = run_steps(ADAM_FACTORIES[case], start, gradients)
    assert compiled._adam_kernel is not None

    monkeypatch.setenv("MLPKIT_COMPILED", "0")
    with_numpy = run_steps(ADAM_FACTORIES[case], start, gradients)

    assert_same_steps(with_kernel, with_numpy)


def test_compiled_step_skips_numpy_rule(numba, monkeypatch):
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    calls = []
    monkeypatch.setattr(optimizers, "_adam_rule", lambda *arguments: calls.append(1))
    parameters = np.ones(10, dtype=np.float32)

    Adam().step(parameters, np.full(10, 0.5, dtype=np.float32))

    assert calls == []
    assert np.all(parameters < 1.0)


def test_small_buffers_use_numpy(numba, monkeypatch):
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 100)

    assert compiled.adam_kernel(99) is None
    assert compiled._adam_kernel is compiled._NOT_LOADED
    assert compiled.adam_kernel(100) is not None


@pytest.mark.parametrize("value", ["0", "off", "False", " no "])
def test_environment_variable_turns_kernel_off(value, monkeypatch):
    monkeypatch.setenv("MLPKIT_COMPILED", value)

    assert compiled.adam_kernel(10**9) is None
    assert compiled._adam_kernel is compiled._NOT_LOADED


@pytest.mark.parametrize("value", ["", "1", "on"])
def test_environment_variable_leaves_kernel_on(value, monkeypatch):
    monkeypatch.setenv("MLPKIT_COMPILED", value)

    assert compiled.compiled_enabled()


def test_missing_numba_falls_back_to_numpy(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    start = np.linspace(-1.0, 1.0, 50, dtype=np.float32)
    gradients = hard_gradients(50, np.float32, n_steps=3)

    with caplog.at_level(logging.DEBUG, logger="mlpkit.compiled"):
        missing = run_steps(ADAM_FACTORIES["adam"], start, gradients)

    assert compiled._adam_kernel is None
    assert "Numba is not installed" in caplog.text
    monkeypatch.setenv("MLPKIT_COMPILED", "0")
    assert_same_steps(missing, run_steps(ADAM_FACTORIES["adam"], start, gradients))


def test_disabled_jit_falls_back_to_numpy(numba, monkeypatch):
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)

    assert compiled._compile(compiled._adam_loop) is None


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
        kernel = compiled._compile(compiled._adam_loop)

    assert requested == [True, False]
    assert kernel is not None
    assert "cannot cache" in caplog.text


def test_failed_compilation_falls_back_to_numpy(numba, monkeypatch, caplog):
    from numba.core.errors import TypingError

    def broken_kernel(*arguments):
        raise TypingError("no implementation for this processor")

    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    monkeypatch.setattr(compiled, "_adam_kernel", broken_kernel)
    start = np.linspace(-1.0, 1.0, 50, dtype=np.float32)
    gradients = hard_gradients(50, np.float32, n_steps=3)

    with caplog.at_level(logging.WARNING, logger="mlpkit.compiled"):
        fallback = run_steps(ADAM_FACTORIES["adamw"], start, gradients)

    assert compiled._adam_kernel is None
    assert caplog.text.count("compiling the Adam step failed") == 1
    monkeypatch.setenv("MLPKIT_COMPILED", "0")
    assert_same_steps(fallback, run_steps(ADAM_FACTORIES["adamw"], start, gradients))


def test_subclass_with_own_rule_skips_kernel(numba, monkeypatch):
    class HalfStepAdam(Adam):
        def _update(self, parameters, gradients, state):
            super()._update(parameters, gradients * 0.5, state)

    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    start = np.ones(20, dtype=np.float64)
    gradients = [np.full(20, 2.0)]

    halved = run_steps(HalfStepAdam, start, gradients)
    plain = run_steps(lambda: Adam(), start, [np.full(20, 1.0)])

    assert_same_steps(halved, plain)


@pytest.mark.parametrize(
    "gradient_dtype, writeable",
    [(np.float64, True), (np.float32, False)],
    ids=["mixed_dtypes", "read_only_gradients"],
)
def test_unusual_arrays_take_numpy_path(gradient_dtype, writeable, numba, monkeypatch):
    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    calls = []
    numpy_rule = optimizers._adam_rule

    def counted_rule(*arguments):
        calls.append(1)
        numpy_rule(*arguments)

    monkeypatch.setattr(optimizers, "_adam_rule", counted_rule)
    gradients = np.full(10, 0.5, dtype=gradient_dtype)
    gradients.flags.writeable = writeable
    parameters = np.ones(10, dtype=np.float32)

    Adam().step(parameters, gradients)

    assert calls == [1]
    assert np.all(parameters < 1.0)


@pytest.mark.filterwarnings("ignore::mlpkit.errors.ConvergenceWarning")
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_training_same_with_and_without_kernel(optimizer, numba, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    settings = dict(
        hidden_layers=(16, 8), optimizer=optimizer, max_epochs=4, batch_size=16
    )

    monkeypatch.setattr(compiled, "MIN_COMPILED_SIZE", 0)
    with_kernel = MLP(**settings).fit(X, y)
    assert compiled._adam_kernel is not None

    monkeypatch.setenv("MLPKIT_COMPILED", "0")
    with_numpy = MLP(**settings).fit(X, y)

    np.testing.assert_array_equal(
        with_kernel.network_.parameters, with_numpy.network_.parameters
    )
    np.testing.assert_array_equal(with_kernel.predict_proba(X), with_numpy.predict_proba(X))
