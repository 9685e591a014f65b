"""The engine's contracts: initialization, dtypes, activations and optimizers."""

import warnings

import numpy as np
import pytest

from mlpkit.activations import ACTIVATIONS, get_activation
from mlpkit.errors import ParameterError
from mlpkit.network import Network
from mlpkit.optimizers import SGD, Adam, make_optimizer


def test_same_seed_gives_identical_weights():
    first = Network([8, 16, 4, 3], seed=42)
    second = Network([8, 16, 4, 3], seed=42)

    assert first.parameters.tobytes() == second.parameters.tobytes()


def test_other_seed_gives_other_weights():
    first = Network([8, 16, 3], seed=1)
    second = Network([8, 16, 3], seed=2)

    assert not np.array_equal(first.parameters, second.parameters)


def test_float32_is_default_and_float64_on_request():
    assert Network([3, 2]).parameters.dtype == np.float32
    assert Network([3, 2], dtype="float64").parameters.dtype == np.float64


def test_float32_weights_are_rounded_float64_weights():
    single = Network([5, 7, 2], seed=3)
    double = Network([5, 7, 2], seed=3, dtype="float64")

    np.testing.assert_array_equal(single.parameters, double.parameters.astype(np.float32))


def test_forward_keeps_float32():
    network = Network([3, 4, 2], seed=0)
    outputs = network.forward(np.ones((5, 3)))

    assert outputs.dtype == np.float32


def test_biases_start_at_zero():
    network = Network([6, 5, 2], seed=0)

    for layer in network.layers:
        assert not layer.biases.any()


@pytest.mark.parametrize(
    "activation, expected_std",
    [("relu", np.sqrt(2 / 400)), ("tanh", np.sqrt(2 / (400 + 300)))],
)
def test_initialization_scale_follows_activation(activation, expected_std):
    network = Network([400, 300, 1], activation=activation, seed=0, dtype="float64")

    std = network.layers[0].weights.std()

    assert abs(std - expected_std) / expected_std < 0.02


def test_layers_are_views_into_flat_buffers():
    network = Network([3, 4, 2], seed=0)
    network.parameters[:] = 0.5

    assert np.all(network.layers[0].weights == 0.5)
    assert np.all(network.layers[1].biases == 0.5)


def test_backward_twice_gives_same_gradients():
    rng = np.random.default_rng(0)
    network = Network([4, 5, 2], activation="tanh", seed=0)
    X, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))

    _, first = network.compute_gradients(X, y)
    first = first.copy()
    second = network.backward(y)

    np.testing.assert_array_equal(first, second)


def test_sigmoid_has_no_overflow_warning():
    sigmoid = get_activation("sigmoid")
    z = np.array([-1e308, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e308])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = sigmoid.forward(z)

    np.testing.assert_allclose(a, [0, 0, 1.9287498479639178e-22, 0.5, 1, 1, 1])


def test_sigmoid_float32_has_no_overflow_warning():
    sigmoid = get_activation("sigmoid")
    z = np.array([-1e38, -100.0, 100.0, 1e38], dtype=np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = sigmoid.forward(z)

    assert a.dtype == np.float32
    np.testing.assert_allclose(a, [0, 0, 1, 1], atol=1e-30)


def test_softmax_rows_sum_to_one_for_large_inputs():
    softmax = get_activation("softmax")
    z = np.array([[1000.0, 999.0, -1000.0], [0.0, 0.0, 0.0]])

    a = softmax.forward(z)

    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert np.isfinite(a).all()


def test_softmax_rejected_in_hidden_layer():
    with pytest.raises(ParameterError, match="softmax"):
        Network([3, 4, 2], activation="softmax")


def test_unknown_activation_names_allowed_ones():
    with pytest.raises(ParameterError, match="relu"):
        Network([3, 4, 2], activation="swish")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_repr_names_class(name):
    assert type(get_activation(name)).__name__ in repr(get_activation(name))


def test_network_repr_shows_layers_and_count():
    text = repr(Network([4, 3, 2], activation="tanh"))

    assert "4 → 3 tanh → 2 identity" in text
    assert "parameters=23" in text


def test_sgd_step_is_plain_gradient_descent():
    parameters = np.array([1.0, -2.0])
    SGD(learning_rate=0.1).step(parameters, np.array([0.5, -1.0]))

    np.testing.assert_allclose(parameters, [0.95, -1.9])


def test_sgd_momentum_accumulates_velocity():
    parameters = np.array([0.0])
    optimizer = SGD(learning_rate=1.0, momentum=0.5)
    optimizer.step(parameters, np.array([1.0]))
    optimizer.step(parameters, np.array([1.0]))

    # Velocities are 1 then 1.5, so the parameter moves by 2.5 in total.
    np.testing.assert_allclose(parameters, [-2.5])


def test_nesterov_looks_ahead():
    parameters = np.array([0.0])
    optimizer = SGD(learning_rate=1.0, momentum=0.5, nesterov=True)
    optimizer.step(parameters, np.array([1.0]))

    # v = 1, so the step is g + μ v = 1.5.
    np.testing.assert_allclose(parameters, [-1.5])


def test_adam_first_step_moves_by_learning_rate():
    parameters = np.array([1.0, 1.0])
    Adam(learning_rate=0.01).step(parameters, np.array([3.0, -0.2]))

    # After bias correction m̂ / √v̂ = sign(g), so each entry moves by η.
    np.testing.assert_allclose(parameters, [0.99, 1.01], rtol=1e-6)


def test_optimizer_rejects_negative_learning_rate():
    with pytest.raises(ParameterError, match="learning_rate"):
        make_optimizer("adam", learning_rate=-1.0)


def test_optimizer_rejects_unknown_name():
    with pytest.raises(ParameterError, match="adam"):
        make_optimizer("adagrad2")


def test_nesterov_without_momentum_rejected():
    with pytest.raises(ParameterError, match="momentum"):
        SGD(momentum=0.0, nesterov=True)


def test_config_round_trip_keeps_weights():
    network = Network([3, 5, 2], activation="tanh", seed=9)
    rebuilt = Network.from_config(network.get_config(), network.get_arrays())

    np.testing.assert_array_equal(rebuilt.parameters, network.parameters)
    assert rebuilt.get_config() == network.get_config()
