"""Backpropagation checked against central finite differences in float64."""

import itertools

import numpy as np
import pytest

from mlpkit.activations import HIDDEN_ACTIVATIONS
from mlpkit.network import Network

STEP = 1e-5
MAX_RELATIVE_ERROR = 1e-6
# Below this size a gradient entry is compared in absolute terms: the central
# difference itself carries an error of about STEP² times the third
# derivative, roughly 1e-10 here.
ABSOLUTE_FLOOR = 1e-4

# Output activation and loss pairs: the three fused pairs, then pairs that go
# through the activation's own backward pass, among them every output
# activation besides those and every regression loss besides squared error.
OUTPUTS = [
    ("identity", "squared_error"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("sigmoid", "squared_error"),
    ("softmax", "squared_error"),
    ("tanh", "squared_error"),
    ("elu", "squared_error"),
    ("gelu", "squared_error"),
    ("softplus", "squared_error"),
    ("maxout", "squared_error"),
    ("identity", "absolute_error"),
    ("identity", "huber"),
    ("identity", "poisson"),
    ("identity", "quantile"),
]
HIDDEN_DEPTHS = [1, 2, 3]


def make_batch(loss, n_outputs, rng, n_samples=7):
    if loss == "categorical_cross_entropy":
        y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n_samples, n_outputs)).astype(np.float64)
    elif loss == "poisson":
        y = rng.poisson(2.0, (n_samples, n_outputs)).astype(np.float64)
    else:
        y = rng.normal(size=(n_samples, n_outputs))
    return rng.normal(size=(n_samples, 4)), y


def finite_difference_gradients(network, X, y, sample_weight=None):
    estimates = np.empty_like(network.parameters)
    for index in range(network.parameters.size):
        original = network.parameters[index]
        network.parameters[index] = original + STEP
        upper = network.loss_value(X, y, sample_weight)
        network.parameters[index] = original - STEP
        lower = network.loss_value(X, y, sample_weight)
        network.parameters[index] = original
        estimates[index] = (upper - lower) / (2 * STEP)
    return estimates


def relative_errors(analytic, numeric):
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), ABSOLUTE_FLOOR)
    return np.abs(analytic - numeric) / scale


@pytest.mark.parametrize(
    "hidden_activation, output, depth",
    list(itertools.product(HIDDEN_ACTIVATIONS, OUTPUTS, HIDDEN_DEPTHS)),
)
def test_backprop_matches_finite_differences(hidden_activation, output, depth):
    output_activation, loss = output
    rng = np.random.default_rng(depth)
    n_outputs = 3
    network = Network(
        [4] + [5] * depth + [n_outputs],
        activation=hidden_activation,
        output_activation=output_activation,
        loss=loss,
        dtype="float64",
        seed=depth,
    )
    X, y = make_batch(loss, n_outputs, rng)

    _, gradients = network.compute_gradients(X, y)
    analytic = gradients.copy()
    numeric = finite_difference_gradients(network, X, y)

    assert relative_errors(analytic, numeric).max() < MAX_RELATIVE_ERROR


@pytest.mark.parametrize("output_activation, loss", OUTPUTS[:3] + OUTPUTS[10:])
def test_weighted_backprop_matches_finite_differences(output_activation, loss):
    rng = np.random.default_rng(5)
    network = Network(
        [4, 6, 3],
        activation="tanh",
        output_activation=output_activation,
        loss=loss,
        dtype="float64",
        seed=5,
    )
    X, y = make_batch(loss, 3, rng)
    weights = rng.uniform(0.1, 3.0, size=X.shape[0])

    _, gradients = network.compute_gradients(X, y, weights)
    analytic = gradients.copy()
    numeric = finite_difference_gradients(network, X, y, weights)

    assert relative_errors(analytic, numeric).max() < MAX_RELATIVE_ERROR


# Loss parameters away from their defaults: a small δ puts most residuals on
# Huber's linear part, and quantiles near 0 and 1 make the slopes lopsided.
@pytest.mark.parametrize(
    "loss, loss_params",
    [
        ("huber", {"delta": 0.2}),
        ("huber", {"delta": 5.0}),
        ("quantile", {"quantile": 0.1}),
        ("quantile", {"quantile": 0.9}),
    ],
)
def test_loss_parameters_backprop_matches_finite_differences(loss, loss_params):
    rng = np.random.default_rng(6)
    network = Network(
        [4, 6, 5, 3],
        activation="gelu",
        loss=loss,
        dtype="float64",
        seed=6,
        loss_params=loss_params,
    )
    X, y = make_batch(loss, 3, rng)
    weights = rng.uniform(0.1, 3.0, size=X.shape[0])

    _, gradients = network.compute_gradients(X, y, weights)
    analytic = gradients.copy()
    numeric = finite_difference_gradients(network, X, y, weights)

    assert relative_errors(analytic, numeric).max() < MAX_RELATIVE_ERROR


@pytest.mark.parametrize("pieces", [3, 5])
@pytest.mark.parametrize("output_activation", ["identity", "maxout"])
def test_maxout_pieces_backprop_matches_finite_differences(pieces, output_activation):
    rng = np.random.default_rng(pieces)
    network = Network(
        [4, 5, 6, 3],
        activation="maxout",
        output_activation=output_activation,
        dtype="float64",
        seed=pieces,
        maxout_pieces=pieces,
    )
    X, y = make_batch("squared_error", 3, rng)

    _, gradients = network.compute_gradients(X, y)
    analytic = gradients.copy()
    numeric = finite_difference_gradients(network, X, y)

    assert network.layers[0].weights.shape == (4, 5 * pieces)
    assert relative_errors(analytic, numeric).max() < MAX_RELATIVE_ERROR


def test_every_layer_gets_a_gradient():
    rng = np.random.default_rng(0)
    network = Network([4, 5, 5, 2], activation="tanh", dtype="float64", seed=0)
    X, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))

    network.compute_gradients(X, y)

    for layer in network.layers:
        assert np.abs(layer.weight_gradient).sum() > 0
        assert np.abs(layer.bias_gradient).sum() > 0
