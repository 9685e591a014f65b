"""ELU, GELU, softplus and maxout: values, slopes, extreme inputs and layers."""

import math
import pickle
import warnings

import numpy as np
import pytest

from mlpkit.activations import (
    ACTIVATIONS,
    DEFAULT_MAXOUT_PIECES,
    HIDDEN_ACTIVATIONS,
    get_activation,
)
from mlpkit.errors import ParameterError
from mlpkit.layers import Dense
from mlpkit.network import Network

ELEMENT_WISE = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
]
STEP = 1e-6


def normal_cdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


# Values from the equations, written out by hand.
KNOWN_VALUES = [
    ("elu", 2.0, 2.0),
    ("elu", -1.0, math.exp(-1.0) - 1.0),
    ("elu", -50.0, math.exp(-50.0) - 1.0),
    ("gelu", 1.0, normal_cdf(1.0)),
    ("gelu", -2.0, -2.0 * normal_cdf(-2.0)),
    # Deep in the tail, where ½ (1 + erf(z / √2)) would round to 0.
    ("gelu", -10.0, -10.0 * normal_cdf(-10.0)),
    ("softplus", 0.0, math.log(2.0)),
    ("softplus", 3.0, math.log1p(math.exp(3.0))),
    ("softplus", -40.0, math.log1p(math.exp(-40.0))),
]


@pytest.mark.parametrize("name, z, expected", KNOWN_VALUES)
def test_activation_matches_equation(name, z, expected):
    a = get_activation(name).forward(np.array([z]))

    np.testing.assert_allclose(a, [expected], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ELEMENT_WISE)
def test_derivative_matches_central_difference(name):
    activation = get_activation(name)
    # Away from the kinks of relu, leaky relu and ELU at 0.
    z = np.array([-7.5, -3.1, -1.2, -0.4, -0.01, 0.02, 0.3, 1.1, 2.9, 6.4])

    slope = activation.derivative(z, activation.forward(z))
    numeric = (activation.forward(z + STEP) - activation.forward(z - STEP)) / (2 * STEP)

    np.testing.assert_allclose(slope, numeric, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", ["elu", "gelu", "softplus"])
def test_new_activations_allowed_in_hidden_layers(name):
    assert name in HIDDEN_ACTIVATIONS


def test_maxout_allowed_in_hidden_layers():
    assert "maxout" in HIDDEN_ACTIVATIONS


# Extreme inputs: no overflow warning, finite results, the right limits

EXTREMES = {
    np.float64: np.array([-1e308, -1e200, -800, -40, 0, 40, 800, 1e200, 1e308]),
    np.float32: np.array([-3e38, -1e20, -100, -10, 0, 10, 100, 1e20, 3e38]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["elu", "gelu", "softplus", "sigmoid"])
def test_huge_inputs_raise_no_warning(name, dtype):
    activation = get_activation(name)
    z = EXTREMES[dtype].astype(dtype)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = activation.forward(z)
        slope = activation.derivative(z, a)

    assert a.dtype == dtype
    assert slope.dtype == dtype
    assert np.isfinite(a).all()
    assert np.isfinite(slope).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    "name, lowest, slope_at_lowest",
    [("elu", -1.0, 0.0), ("gelu", 0.0, 0.0), ("softplus", 0.0, 0.0)],
)
def test_activation_limits_at_huge_inputs(name, lowest, slope_at_lowest, dtype):
    activation = get_activation(name)
    z = np.array([EXTREMES[dtype][0], EXTREMES[dtype][-1]], dtype=dtype)

    a = activation.forward(z)
    slope = activation.derivative(z, a)

    assert a[0] == lowest
    assert a[1] == z[1]
    assert slope[0] == slope_at_lowest
    assert slope[1] == 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_maxout_huge_inputs_raise_no_warning(dtype):
    maxout = get_activation("maxout")
    z = EXTREMES[dtype].astype(dtype)[np.newaxis, :8]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = maxout.forward(z)
        delta = maxout.backward(np.ones_like(a), z, a)

    np.testing.assert_array_equal(a, z[:, 1::2])
    assert delta.dtype == dtype


# Maxout


def test_maxout_keeps_largest_piece_of_each_unit():
    maxout = get_activation("maxout", maxout_pieces=3)
    z = np.array([[1.0, 5.0, 2.0, -4.0, -1.0, -3.0], [0.5, 0.1, 0.2, 7.0, 8.0, 9.0]])

    a = maxout.forward(z)

    np.testing.assert_array_equal(a, [[5.0, -1.0], [0.5, 9.0]])


def test_maxout_routes_delta_to_winner():
    maxout = get_activation("maxout", maxout_pieces=3)
    z = np.array([[1.0, 5.0, 2.0, -4.0, -1.0, -3.0], [0.5, 0.1, 0.2, 7.0, 8.0, 9.0]])
    grad_a = np.array([[10.0, 20.0], [30.0, 40.0]])

    delta = maxout.backward(grad_a, z, maxout.forward(z))

    expected = [[0.0, 10.0, 0.0, 0.0, 20.0, 0.0], [30.0, 0.0, 0.0, 0.0, 0.0, 40.0]]
    np.testing.assert_array_equal(delta, expected)


def test_maxout_tie_picks_first_piece():
    maxout = get_activation("maxout")
    z = np.array([[2.0, 2.0]])

    delta = maxout.backward(np.array([[1.0]]), z, maxout.forward(z))

    np.testing.assert_array_equal(delta, [[1.0, 0.0]])


def test_maxout_default_pieces():
    assert get_activation("maxout").pieces == DEFAULT_MAXOUT_PIECES == 2


@pytest.mark.parametrize("pieces", [1, 0, -2, 2.5, True, "3", None])
def test_maxout_rejects_invalid_pieces(pieces):
    with pytest.raises(ParameterError, match="maxout_pieces"):
        get_activation("maxout", maxout_pieces=pieces)


def test_maxout_accepts_numpy_integer_pieces():
    assert get_activation("maxout", maxout_pieces=np.int64(4)).pieces == 4


def test_maxout_repr_shows_pieces():
    assert repr(get_activation("maxout", maxout_pieces=3)) == "Maxout(pieces=3)"


def test_other_activations_have_one_piece():
    for name in ACTIVATIONS:
        if name != "maxout":
            assert get_activation(name, maxout_pieces=5).pieces == 1


def test_maxout_layer_width():
    layer = Dense(4, 3, "maxout", hidden=True, maxout_pieces=3)

    assert layer.weights.shape == (4, 9)
    assert layer.biases.shape == (9,)
    assert layer.parameter_count == 4 * 9 + 9
    assert "pieces=3" in repr(layer)


def test_maxout_network_shapes():
    network = Network([4, 5, 2], activation="maxout", seed=0, maxout_pieces=4)
    network.forward(np.ones((6, 4)))
    hidden = network.layers[0]

    assert hidden.z.shape == (6, 20)
    assert hidden.a.shape == (6, 5)
    assert network.layers[1].weights.shape == (5, 2)
    assert network.n_parameters == (4 * 20 + 20) + (5 * 2 + 2)


def test_maxout_network_config_round_trips():
    network = Network([3, 4, 2], activation="maxout", seed=1, maxout_pieces=3)
    X = np.random.default_rng(0).normal(size=(5, 3))

    rebuilt = Network.from_config(network.get_config(), network.get_arrays())

    assert network.get_config()["maxout_pieces"] == 3
    assert rebuilt.get_config() == network.get_config()
    np.testing.assert_array_equal(rebuilt.forward(X), network.forward(X))


def test_maxout_network_pickle_keeps_views():
    network = Network([3, 4, 2], activation="maxout", seed=1, maxout_pieces=3)

    copy = pickle.loads(pickle.dumps(network))
    copy.parameters[:] = 0.25

    assert copy.layers[0].weights.shape == (3, 12)
    assert np.all(copy.layers[0].weights == 0.25)


def test_config_without_maxout_has_no_pieces_key():
    config = Network([3, 4, 2], activation="relu", maxout_pieces=3).get_config()

    assert "maxout_pieces" not in config


def test_maxout_output_counts_units():
    network = Network([3, 4, 2], activation="tanh", output_activation="maxout", seed=0)

    outputs = network.forward(np.ones((2, 3)))

    assert outputs.shape == (2, 2)
    assert network.get_config()["maxout_pieces"] == 2
