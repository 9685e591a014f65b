"""Contracts of the optimizers: first steps by hand, settings, config and state.

The step-for-step comparison with ``torch.optim`` lives in
``test_torch_oracle.py`` and ``test_torch_oracle_optimizers.py``.
"""

import json
import math

import numpy as np
import pytest

from mlpkit import optimizers
from mlpkit.errors import ParameterError
from mlpkit.optimizers import (
    OPTIMIZERS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    RMSprop,
    make_optimizer,
)

# One optimizer per state layout, with settings away from the defaults.
FACTORIES = {
    "sgd": lambda: SGD(learning_rate=0.1),
    "nesterov": lambda: SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(learning_rate=0.01, epsilon_placement="uncorrected"),
    "adamw": lambda: AdamW(learning_rate=0.01, beta1=0.8, weight_decay=0.1),
    "rmsprop": lambda: RMSprop(learning_rate=0.01, rho=0.9),
    "rmsprop_centered_momentum": lambda: RMSprop(momentum=0.5, centered=True),
    "adagrad": lambda: Adagrad(initial_accumulator_value=0.1, learning_rate_decay=0.01),
    "adadelta": lambda: Adadelta(rho=0.99, epsilon=1e-8),
}


def gradient_sequence(n_steps, size=5, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=size) for _ in range(n_steps)]


# First steps worked out by hand


def test_rmsprop_first_step_by_hand():
    parameters = np.array([1.0, 1.0])
    RMSprop(learning_rate=0.1, rho=0.75, epsilon=1e-12).step(
        parameters, np.array([2.0, -0.5])
    )

    # s = (1 − ρ) g², so g / √s = sign(g) / √(1 − ρ) = 2 sign(g).
    np.testing.assert_allclose(parameters, [0.8, 1.2], rtol=1e-9)


def test_centered_rmsprop_first_step_by_hand():
    parameters = np.array([0.0])
    optimizer = RMSprop(learning_rate=1.0, rho=0.5, epsilon=1e-12, centered=True)
    optimizer.step(parameters, np.array([2.0]))

    # s = 2, ḡ = 1, so the step is g / √(s − ḡ²) = 2.
    np.testing.assert_allclose(parameters, [-2.0], rtol=1e-9)


def test_centered_rmsprop_constant_gradient_finite():
    parameters = np.array([0.0, 0.0])
    optimizer = RMSprop(learning_rate=1e-3, rho=0.5, centered=True)
    # With ρ = 0.5 and g = 0.7, float64 rounding makes s − ḡ² negative.
    for _ in range(200):
        optimizer.step(parameters, np.array([0.1, 0.7]))

    assert np.isfinite(parameters).all()


def test_adagrad_first_step_moves_by_learning_rate():
    parameters = np.array([1.0, 1.0])
    Adagrad(learning_rate=0.01).step(parameters, np.array([3.0, -0.2]))

    # G = g², so g / √G = sign(g).
    np.testing.assert_allclose(parameters, [0.99, 1.01], rtol=1e-9)


def test_adagrad_accumulator_and_decay():
    parameters = np.array([0.0])
    optimizer = Adagrad(
        learning_rate=1.0,
        epsilon=1e-12,
        initial_accumulator_value=5.0,
        learning_rate_decay=1.0,
    )
    optimizer.step(parameters, np.array([2.0]))
    optimizer.step(parameters, np.array([2.0]))

    # Steps of 2 / √9 and, at half the rate, 2 / √13 / 2.
    expected = -(2.0 / 3.0 + 1.0 / math.sqrt(13.0))
    np.testing.assert_allclose(parameters, [expected], rtol=1e-9)


def test_adadelta_first_step_by_hand():
    parameters = np.array([0.0])
    Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-6).step(parameters, np.array([4.0]))

    # E[g²] = 1.6 and E[Δ²] = 0, so Δ = √1e-6 / √(1.6 + 1e-6) · 4.
    expected = -math.sqrt(1e-6) / math.sqrt(1.6 + 1e-6) * 4.0
    np.testing.assert_allclose(parameters, [expected], rtol=1e-9)


def test_adamw_decays_weights_without_gradient():
    parameters = np.array([2.0, -1.0])
    AdamW(learning_rate=0.1, weight_decay=0.5).step(parameters, np.zeros(2))

    # A zero gradient leaves the moments at zero, so only θ ← θ (1 − η λ) acts.
    np.testing.assert_allclose(parameters, [1.9, -0.95], rtol=1e-12)


@pytest.mark.parametrize("placement", Adam.EPSILON_PLACEMENTS)
def test_adamw_without_decay_equals_adam(placement):
    adam_parameters = np.ones(5)
    adamw_parameters = np.ones(5)
    adam = Adam(learning_rate=0.01, epsilon=1e-3, epsilon_placement=placement)
    adamw = AdamW(
        learning_rate=0.01,
        epsilon=1e-3,
        epsilon_placement=placement,
        weight_decay=0.0,
    )
    for gradients in gradient_sequence(5):
        adam.step(adam_parameters, gradients)
        adamw.step(adamw_parameters, gradients)

    np.testing.assert_array_equal(adamw_parameters, adam_parameters)


# Shared contracts, for every optimizer


def test_factories_cover_every_optimizer():
    names = {factory().name for factory in FACTORIES.values()}

    assert names == set(OPTIMIZERS)


@pytest.mark.parametrize("case", list(FACTORIES))
def test_config_round_trip_through_json(case):
    optimizer = FACTORIES[case]()
    config = json.loads(json.dumps(optimizer.get_config()))
    rebuilt = make_optimizer(**config)

    assert type(rebuilt) is type(optimizer)
    assert rebuilt.get_config() == optimizer.get_config()


@pytest.mark.parametrize("case", list(FACTORIES))
def test_state_restores_exact_trajectory(case):
    gradients = gradient_sequence(6)
    uninterrupted = np.linspace(-1.0, 1.0, 5)
    optimizer = FACTORIES[case]()
    for gradient in gradients:
        optimizer.step(uninterrupted, gradient)

    resumed = np.linspace(-1.0, 1.0, 5)
    first = FACTORIES[case]()
    for gradient in gradients[:3]:
        first.step(resumed, gradient)
    iterations, state = first.get_state()
    second = FACTORIES[case]()
    second.set_state(iterations, {name: array.copy() for name, array in state.items()})
    for gradient in gradients[3:]:
        second.step(resumed, gradient)

    assert second.iterations == 6
    np.testing.assert_array_equal(resumed, uninterrupted)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(FACTORIES))
def test_sliced_update_matches_whole_buffer(case, dtype, monkeypatch):
    rng = np.random.default_rng(11)
    start = rng.normal(size=1001).astype(dtype)
    gradients = [rng.normal(size=1001).astype(dtype) for _ in range(4)]

    whole_parameters = start.copy()
    whole = FACTORIES[case]()
    for gradient in gradients:
        whole.step(whole_parameters, gradient)

    # 24 bytes is 3 float64 or 6 float32 values: slices with a short last one.
    monkeypatch.setattr(optimizers, "UPDATE_CHUNK_BYTES", 24)
    sliced_parameters = start.copy()
    sliced = FACTORIES[case]()
    for gradient in gradients:
        sliced.step(sliced_parameters, gradient)

    np.testing.assert_array_equal(sliced_parameters, whole_parameters)
    for name, values in whole.get_state()[1].items():
        np.testing.assert_array_equal(sliced.get_state()[1][name], values)


@pytest.mark.parametrize("case", list(FACTORIES))
def test_state_arrays_match_parameters(case):
    optimizer = FACTORIES[case]()
    parameters = np.ones(7, dtype=np.float32)
    optimizer.step(parameters, np.full(7, 0.5, dtype=np.float32))
    _, state = optimizer.get_state()

    # Checkpoints store each state array with the shape of the parameters.
    assert tuple(state) == optimizer.state_names
    for name, array in state.items():
        assert array.shape == parameters.shape, name
        assert array.dtype == np.float32, name
    assert parameters.dtype == np.float32


@pytest.mark.parametrize("case", list(FACTORIES))
def test_repr_names_class_and_settings(case):
    optimizer = FACTORIES[case]()
    text = repr(optimizer)

    assert text.startswith(type(optimizer).__name__ + "(")
    assert "learning_rate=" in text


def test_rmsprop_state_names_follow_options():
    assert RMSprop().state_names == ("square_average",)
    assert RMSprop(centered=True, momentum=0.9).state_names == (
        "square_average",
        "gradient_average",
        "velocity",
    )


INVALID_SETTINGS = [
    ("rmsprop", {"rho": 1.5}, "rho"),
    ("rmsprop", {"momentum": -0.1}, "momentum"),
    ("rmsprop", {"epsilon": 0.0}, "epsilon"),
    ("adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("adagrad", {"learning_rate_decay": -0.5}, "learning_rate_decay"),
    ("adagrad", {"learning_rate": 0.0}, "learning_rate"),
    ("adadelta", {"rho": -0.1}, "rho"),
    ("adadelta", {"epsilon": float("nan")}, "epsilon"),
    ("adamw", {"weight_decay": -0.01}, "weight_decay"),
    ("adamw", {"beta2": 1.0}, "beta2"),
    ("adamw", {"epsilon_placement": "inside"}, "epsilon_placement"),
]


@pytest.mark.parametrize("name, settings, parameter", INVALID_SETTINGS)
def test_invalid_setting_rejected(name, settings, parameter):
    with pytest.raises(ParameterError, match=parameter):
        make_optimizer(name, **settings)


def test_unknown_name_lists_every_optimizer():
    with pytest.raises(ParameterError) as error:
        make_optimizer("lion")

    for name in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"):
        assert name in str(error.value)


@pytest.mark.parametrize("value", ["0.1", True, None, [0.1]])
def test_learning_rate_must_be_number(value):
    with pytest.raises(ParameterError, match="learning_rate must be a number") as caught:
        SGD(learning_rate=value)

    assert caught.value.parameter == "learning_rate"
