"""Absolute error, Huber, Poisson and quantile losses: values, gradients, configs."""

import pickle
import warnings

import numpy as np
import pytest

from mlpkit.errors import ParameterError
from mlpkit.losses import LOSSES, get_loss
from mlpkit.network import Network

STEP = 1e-6

# One sample with three outputs; residuals ŷ − y of −2, 0.5 and 3.
Y_TRUE = np.array([[1.0, 2.0, 0.0]])
Y_PRED = np.array([[-1.0, 2.5, 3.0]])

# Per-sample losses worked out by hand for Y_TRUE and Y_PRED.
KNOWN_VALUES = [
    ("absolute_error", {}, 2.0 + 0.5 + 3.0),
    # δ = 1: linear for −2 and 3, quadratic for 0.5.
    ("huber", {}, (2.0 - 0.5) + 0.5 * 0.25 + (3.0 - 0.5)),
    # δ = 2.5: quadratic for −2 and 0.5, linear for 3.
    ("huber", {"delta": 2.5}, 0.5 * 4.0 + 0.5 * 0.25 + 2.5 * (3.0 - 1.25)),
    # τ = 0.5: half the absolute error.
    ("quantile", {}, 0.5 * (2.0 + 0.5 + 3.0)),
    # τ = 0.9: under-prediction (−2) costs 0.9 per unit, over-prediction 0.1.
    ("quantile", {"quantile": 0.9}, 0.9 * 2.0 + 0.1 * 0.5 + 0.1 * 3.0),
]


@pytest.mark.parametrize("name, params, expected", KNOWN_VALUES)
def test_loss_matches_hand_computed_value(name, params, expected):
    loss = get_loss(name, **params)

    values = loss.per_sample(Y_TRUE, Y_PRED)

    np.testing.assert_allclose(values, [expected], rtol=1e-15)


def test_poisson_loss_matches_equation():
    y_true = np.array([[0.0, 3.0]])
    log_rate = np.array([[0.5, -1.0]])
    loss = get_loss("poisson")

    values = loss.per_sample(y_true, log_rate)

    expected = np.exp(0.5) - 0.0 + np.exp(-1.0) + 3.0
    np.testing.assert_allclose(values, [expected], rtol=1e-15)


def test_poisson_minimum_at_log_of_count():
    loss = get_loss("poisson")
    y_true = np.array([[4.0]])

    gradient = loss.gradient(y_true, np.log(y_true))

    np.testing.assert_allclose(gradient, [[0.0]], atol=1e-15)


LOSS_CASES = [
    ("absolute_error", {}),
    ("huber", {}),
    ("huber", {"delta": 0.3}),
    ("poisson", {}),
    ("quantile", {}),
    ("quantile", {"quantile": 0.15}),
]


@pytest.mark.parametrize("name, params", LOSS_CASES)
def test_loss_gradient_matches_central_difference(name, params):
    loss = get_loss(name, **params)
    rng = np.random.default_rng(0)
    y_true = rng.poisson(2.0, size=(6, 3)).astype(np.float64)
    y_pred = rng.normal(1.0, 1.5, size=(6, 3))

    numeric = np.empty_like(y_pred)
    for index in np.ndindex(y_pred.shape):
        upper, lower = y_pred.copy(), y_pred.copy()
        upper[index] += STEP
        lower[index] -= STEP
        row = index[0]
        difference = loss.per_sample(y_true, upper) - loss.per_sample(y_true, lower)
        numeric[index] = difference[row] / (2 * STEP)

    gradient = loss.gradient(y_true, y_pred)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-7, atol=1e-9)


def test_absolute_error_gradient_is_zero_at_target():
    loss = get_loss("absolute_error")

    assert loss.gradient(np.array([[1.5]]), np.array([[1.5]]))[0, 0] == 0.0


@pytest.mark.parametrize("quantile", [0.1, 0.5, 0.8])
def test_quantile_gradient_at_tie(quantile):
    loss = get_loss("quantile", quantile=quantile)

    gradient = loss.gradient(np.array([[1.5]]), np.array([[1.5]]))[0, 0]

    assert gradient == pytest.approx(0.5 - quantile)


@pytest.mark.parametrize("quantile", [0.1, 0.5, 0.9])
def test_quantile_loss_minimized_at_quantile(quantile):
    loss = get_loss("quantile", quantile=quantile)
    values = np.arange(100.0)
    candidates = np.arange(100.0)

    totals = [
        loss.value(values[:, np.newaxis], np.full((100, 1), candidate))
        for candidate in candidates
    ]

    # The pinball loss is flat between the two order statistics around τ·n.
    best = candidates[np.argmin(totals)]
    assert abs(best - np.quantile(values, quantile)) <= 1.0


def test_huber_gradient_is_clipped_residual():
    loss = get_loss("huber", delta=1.5)

    gradient = loss.gradient(Y_TRUE, Y_PRED)

    np.testing.assert_array_equal(gradient, [[-1.5, 0.5, 1.5]])


def test_huber_has_no_overflow_for_huge_residuals():
    loss = get_loss("huber")
    y_pred = np.array([[1e300, -1e300]])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.per_sample(np.zeros((1, 2)), y_pred)

    assert np.isfinite(value).all()


def test_poisson_overflow_is_silent_infinity():
    loss = get_loss("poisson")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.per_sample(np.zeros((1, 1)), np.array([[1000.0]]))

    assert value[0] == np.inf


@pytest.mark.parametrize("name, params", LOSS_CASES)
def test_loss_keeps_float32(name, params):
    loss = get_loss(name, **params)
    y_true = np.array([[1.0, 2.0]], dtype=np.float32)
    y_pred = np.array([[0.5, 2.5]], dtype=np.float32)

    assert loss.per_sample(y_true, y_pred).dtype == np.float32
    assert loss.gradient(y_true, y_pred).dtype == np.float32


# Parameters and configs


def test_losses_table_has_new_names():
    for name in ("absolute_error", "huber", "poisson", "quantile"):
        assert name in LOSSES


@pytest.mark.parametrize(
    "name, params, config",
    [
        ("squared_error", {}, {}),
        ("absolute_error", {}, {}),
        ("poisson", {}, {}),
        ("huber", {}, {"delta": 1.0}),
        ("huber", {"delta": 3}, {"delta": 3.0}),
        ("quantile", {}, {"quantile": 0.5}),
        ("quantile", {"quantile": 0.25}, {"quantile": 0.25}),
    ],
)
def test_loss_config_lists_parameters(name, params, config):
    assert get_loss(name, **params).get_config() == config


def test_loss_repr_shows_parameters():
    assert repr(get_loss("huber", delta=2.0)) == "HuberLoss(delta=2.0)"
    assert repr(get_loss("absolute_error")) == "AbsoluteError()"


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("huber", {"delta": 0.0}, "delta"),
        ("huber", {"delta": -1.0}, "delta"),
        ("huber", {"delta": float("nan")}, "delta"),
        ("huber", {"delta": float("inf")}, "delta"),
        ("huber", {"delta": True}, "delta"),
        ("huber", {"delta": "1"}, "delta"),
        ("quantile", {"quantile": 0.0}, "quantile"),
        ("quantile", {"quantile": 1.0}, "quantile"),
        ("quantile", {"quantile": 1.5}, "quantile"),
        ("huber", {"quantile": 0.5}, "no parameter 'quantile'"),
        ("squared_error", {"delta": 1.0}, "none"),
        ("pinball", {}, "quantile"),
    ],
)
def test_get_loss_rejects_invalid_parameters(name, params, match):
    with pytest.raises(ParameterError, match=match):
        get_loss(name, **params)


def test_network_config_keeps_loss_parameters():
    network = Network([3, 4, 2], loss="quantile", loss_params={"quantile": 0.8}, seed=0)

    rebuilt = Network.from_config(network.get_config(), network.get_arrays())

    assert network.get_config()["loss_params"] == {"quantile": 0.8}
    assert rebuilt.loss.quantile == 0.8
    assert rebuilt.get_config() == network.get_config()


def test_network_pickle_keeps_loss_parameters():
    network = Network([3, 4, 2], loss="huber", loss_params={"delta": 0.25}, seed=0)

    assert pickle.loads(pickle.dumps(network)).loss.delta == 0.25


def test_config_keys_unchanged_without_parameters():
    config = Network([3, 4, 2], loss="absolute_error").get_config()

    assert set(config) == {
        "layer_sizes",
        "activation",
        "output_activation",
        "loss",
        "dtype",
    }


def test_config_without_loss_params_gets_defaults():
    config = {
        "layer_sizes": [3, 2],
        "activation": "relu",
        "output_activation": "identity",
        "loss": "huber",
        "dtype": "float64",
    }

    assert Network.from_config(config).loss.delta == 1.0


@pytest.mark.parametrize("loss_params", [[("delta", 1.0)], "delta", {1: 2.0}])
def test_network_rejects_loss_params_not_mapping(loss_params):
    with pytest.raises(ParameterError, match="loss_params"):
        Network([3, 2], loss="huber", loss_params=loss_params)


def test_network_repr_shows_loss_parameters():
    text = repr(Network([3, 2], loss="huber", loss_params={"delta": 2.0}))

    assert "loss=huber(delta=2.0)" in text
