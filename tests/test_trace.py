"""The trace of one training step: hand-computed values, applied gradients, checks."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.activations import HIDDEN_ACTIVATIONS
from mlpkit.errors import ConvergenceWarning, DataError, NotFittedError
from mlpkit.finite_differences import ESTIMATED_PER_ARRAY
from mlpkit.network import Network
from mlpkit.optimizers import SGD, Adam
from mlpkit.trace import output_unit_names, trace_step

# Output activation and loss pairs: the three fused pairs and three that go
# through the activation's own backward pass.
OUTPUTS = [
    ("identity", "squared_error"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("sigmoid", "squared_error"),
    ("softmax", "squared_error"),
    ("tanh", "squared_error"),
]
OPTIMIZERS = {
    "sgd": lambda: SGD(learning_rate=0.1),
    "momentum": lambda: SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(learning_rate=0.01),
}


def make_batch(loss, n_outputs, n_samples=6, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if loss == "categorical_cross_entropy":
        y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n_samples, n_outputs)).astype(np.float64)
    else:
        y = rng.normal(size=(n_samples, n_outputs))
    return X, y


def flat_gradients(trace):
    """Concatenate the trace's gradients in the layout of Network.gradients."""
    parts = []
    for layer in trace.layers:
        parts.append(layer.weight_gradient.ravel())
        parts.append(layer.bias_gradient)
    return np.concatenate(parts)


def flat_weights_after(trace):
    parts = []
    for layer in trace.layers:
        parts.append(layer.weights_after.ravel())
        parts.append(layer.biases_after)
    return np.concatenate(parts)


def record_steps(optimizer):
    """Make ``optimizer.step`` keep a copy of every gradient vector it receives."""
    received = []
    original_step = optimizer.step

    def step(parameters, gradients):
        received.append(gradients.copy())
        original_step(parameters, gradients)

    optimizer.step = step
    return received


# A step worked out by hand


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def hand_computed_step(loss, learning_rate):
    """Compute one SGD step of a 2-2-1 sigmoid network on one sample, entry by entry."""
    x = [1.0, 2.0]
    y = 1.0
    W1 = [[0.1, -0.2], [0.4, 0.3]]
    b1 = [0.05, -0.1]
    W2 = [0.7, -0.5]
    b2 = 0.2

    z1 = [x[0] * W1[0][j] + x[1] * W1[1][j] + b1[j] for j in range(2)]
    a1 = [sigmoid(value) for value in z1]
    z2 = a1[0] * W2[0] + a1[1] * W2[1] + b2
    a2 = sigmoid(z2)

    if loss == "squared_error":
        value = 0.5 * (a2 - y) ** 2
        delta2 = (a2 - y) * a2 * (1.0 - a2)
    else:
        value = -(y * math.log(a2) + (1.0 - y) * math.log(1.0 - a2))
        delta2 = a2 - y
    delta1 = [delta2 * W2[j] * a1[j] * (1.0 - a1[j]) for j in range(2)]

    grad_W2 = [a1[j] * delta2 for j in range(2)]
    grad_b2 = delta2
    grad_W1 = [[x[i] * delta1[j] for j in range(2)] for i in range(2)]
    grad_b1 = delta1
    new_W1 = [
        [W1[i][j] - learning_rate * grad_W1[i][j] for j in range(2)] for i in range(2)
    ]
    new_W2 = [W2[j] - learning_rate * grad_W2[j] for j in range(2)]
    return {
        "inputs": (x, W1, b1, W2, b2, y),
        "z1": z1,
        "a1": a1,
        "z2": z2,
        "a2": a2,
        "loss": value,
        "delta2": delta2,
        "delta1": delta1,
        "grad_W2": grad_W2,
        "grad_b2": grad_b2,
        "grad_W1": grad_W1,
        "grad_b1": grad_b1,
        "new_W1": new_W1,
        "new_b1": [b1[j] - learning_rate * grad_b1[j] for j in range(2)],
        "new_W2": new_W2,
        "new_b2": b2 - learning_rate * grad_b2,
    }


@pytest.mark.parametrize("loss", ["squared_error", "binary_cross_entropy"])
def test_hand_computed_step_matches_trace(loss):
    expected = hand_computed_step(loss, learning_rate=0.5)
    x, W1, b1, W2, b2, y = expected["inputs"]
    network = Network([2, 2, 1], "sigmoid", "sigmoid", loss, dtype="float64")
    network.set_arrays(
        {
            "weights_0": np.array(W1),
            "biases_0": np.array(b1),
            "weights_1": np.array(W2).reshape(2, 1),
            "biases_1": np.array([b2]),
        }
    )

    trace = network.trace([x], [[y]], learning_rate=0.5)
    hidden, output = trace.layers

    close = {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(hidden.z[0], expected["z1"], **close)
    np.testing.assert_allclose(hidden.a[0], expected["a1"], **close)
    np.testing.assert_allclose(output.z[0, 0], expected["z2"], **close)
    np.testing.assert_allclose(output.a[0, 0], expected["a2"], **close)
    np.testing.assert_allclose(trace.loss, expected["loss"], **close)
    np.testing.assert_allclose(output.delta[0, 0], expected["delta2"], **close)
    np.testing.assert_allclose(hidden.delta[0], expected["delta1"], **close)
    np.testing.assert_allclose(
        output.weight_gradient[:, 0], expected["grad_W2"], **close
    )
    np.testing.assert_allclose(output.bias_gradient[0], expected["grad_b2"], **close)
    np.testing.assert_allclose(hidden.weight_gradient, expected["grad_W1"], **close)
    np.testing.assert_allclose(hidden.bias_gradient, expected["grad_b1"], **close)
    np.testing.assert_allclose(hidden.weights_after, expected["new_W1"], **close)
    np.testing.assert_allclose(hidden.biases_after, expected["new_b1"], **close)
    np.testing.assert_allclose(output.weights_after[:, 0], expected["new_W2"], **close)
    np.testing.assert_allclose(output.biases_after[0], expected["new_b2"], **close)


def test_hand_computed_slopes_match():
    expected = hand_computed_step("squared_error", learning_rate=0.5)
    x, W1, b1, W2, b2, y = expected["inputs"]
    network = Network([2, 2, 1], "sigmoid", "sigmoid", dtype="float64")
    network.set_arrays(
        {
            "weights_0": np.array(W1),
            "biases_0": np.array(b1),
            "weights_1": np.array(W2).reshape(2, 1),
            "biases_1": np.array([b2]),
        }
    )

    trace = network.trace([x], [[y]])
    hidden, output = trace.layers
    a1 = np.array(expected["a1"])

    assert not trace.fused_output_delta
    np.testing.assert_allclose(hidden.slope[0], a1 * (1 - a1), rtol=1e-12)
    np.testing.assert_allclose(output.activation_gradient[0, 0], expected["a2"] - y)
    np.testing.assert_allclose(
        hidden.activation_gradient[0], expected["delta2"] * np.array(W2), rtol=1e-12
    )


# The trace against the engine


@pytest.mark.parametrize("hidden_activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output_activation, loss", OUTPUTS)
def test_trace_gradients_are_applied_gradients(
    hidden_activation, output_activation, loss
):
    network = Network([3, 5, 4, 3], hidden_activation, output_activation, loss, seed=1)
    X, y = make_batch(loss, 3)
    optimizer = SGD(learning_rate=0.1)
    received = record_steps(optimizer)

    trace = network.trace(X, y, optimizer, update=True, finite_differences=False)

    assert len(received) == 1
    np.testing.assert_array_equal(flat_gradients(trace), received[0])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_trace_gradients_reach_each_optimizer(name):
    network = Network([3, 6, 2], "tanh", "softmax", "categorical_cross_entropy", seed=2)
    X, y = make_batch("categorical_cross_entropy", 2)
    optimizer = OPTIMIZERS[name]()
    received = record_steps(optimizer)

    trace = network.trace(X, y, optimizer, update=True, finite_differences=False)

    np.testing.assert_array_equal(flat_gradients(trace), received[0])
    np.testing.assert_array_equal(flat_weights_after(trace), network.parameters)


def test_gradients_match_compute_gradients():
    network = Network([3, 5, 1], "relu", "sigmoid", "binary_cross_entropy", seed=3)
    X, y = make_batch("binary_cross_entropy", 1)

    trace = network.trace(X, y)
    _, gradients = network.compute_gradients(X, y)

    np.testing.assert_array_equal(flat_gradients(trace), gradients)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_update_matches_formula(dtype):
    network = Network([3, 4, 2], "sigmoid", dtype=dtype, seed=4)
    X, y = make_batch("squared_error", 2)

    trace = network.trace(X, y, learning_rate=0.3)

    for layer in trace.layers:
        expected = layer.weights - np.asarray(0.3 * layer.weight_gradient)
        np.testing.assert_array_equal(layer.weights_after, expected)
        np.testing.assert_array_equal(
            layer.weight_update, layer.weights_after - layer.weights
        )


def test_trace_leaves_network_unchanged():
    network = Network([3, 4, 2], "tanh", seed=5)
    before = network.parameters.copy()
    optimizer = Adam(learning_rate=0.01)
    X, y = make_batch("squared_error", 2)

    network.trace(X, y, optimizer)

    np.testing.assert_array_equal(network.parameters, before)
    assert optimizer.iterations == 0
    assert optimizer.get_state()[1] == {}


def test_trace_with_update_steps_network():
    network = Network([3, 4, 2], "tanh", seed=5)
    optimizer = Adam(learning_rate=0.01)
    X, y = make_batch("squared_error", 2)

    trace = network.trace(X, y, optimizer, update=True)

    np.testing.assert_array_equal(network.parameters, flat_weights_after(trace))
    assert optimizer.iterations == 1
    assert trace.loss_after == pytest.approx(network.loss_value(X, y))


def test_trace_arrays_are_copies():
    network = Network([3, 4, 2], seed=6)
    X, y = make_batch("squared_error", 2)

    trace = network.trace(X, y, update=True)
    first_z = trace.layers[0].z.copy()
    network.trace(X * 2, y, update=True)

    np.testing.assert_array_equal(trace.layers[0].z, first_z)
    assert not np.shares_memory(trace.layers[0].weights, network.parameters)
    assert not np.shares_memory(trace.inputs, X)


def test_hidden_delta_matches_chain_rule():
    network = Network([3, 5, 4, 2], "sigmoid", dtype="float64", seed=7)
    X, y = make_batch("squared_error", 2)

    trace = network.trace(X, y)

    for layer in trace.layers[:-1]:
        np.testing.assert_allclose(
            layer.delta, layer.activation_gradient * layer.slope, rtol=1e-12
        )


def test_sample_weight_matches_engine():
    network = Network([3, 4, 2], "tanh", dtype="float64", seed=8)
    X, y = make_batch("squared_error", 2)
    weights = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0])

    trace = network.trace(X, y, sample_weight=weights)
    _, gradients = network.compute_gradients(X, y, weights)

    np.testing.assert_array_equal(flat_gradients(trace), gradients)
    assert trace.estimate_differences().max() < 1e-8


# Finite differences


@pytest.mark.parametrize("output_activation, loss", OUTPUTS)
def test_estimates_agree_in_float64(output_activation, loss):
    network = Network(
        [3, 4, 3], "tanh", output_activation, loss, dtype="float64", seed=9
    )
    X, y = make_batch(loss, 3)

    trace = network.trace(X, y)
    differences = trace.estimate_differences()

    assert differences.size == network.n_parameters
    assert differences.max() < 1e-8


def test_estimates_agree_in_float32():
    network = Network(
        [3, 6, 2], "sigmoid", "softmax", "categorical_cross_entropy", seed=10
    )
    X, y = make_batch("categorical_cross_entropy", 2)

    trace = network.trace(X, y)

    for layer in trace.layers:
        np.testing.assert_allclose(
            layer.weight_gradient, layer.weight_gradient_estimate, rtol=1e-3, atol=1e-5
        )


def test_large_network_estimates_largest_entries():
    network = Network([30, 200, 10], "relu", seed=11)
    X, y = make_batch("squared_error", 10, n_samples=50, n_features=30)

    trace = network.trace(X, y)

    for layer in trace.layers:
        for gradient, estimate in (
            (layer.weight_gradient, layer.weight_gradient_estimate),
            (layer.bias_gradient, layer.bias_gradient_estimate),
        ):
            estimated = ~np.isnan(estimate)
            assert estimated.sum() == min(ESTIMATED_PER_ARRAY, gradient.size)
            smallest_estimated = np.abs(gradient[estimated]).min()
            assert smallest_estimated >= np.abs(gradient[~estimated]).max()
    assert trace.estimate_differences().max() < 1e-4


def test_no_estimates_on_request():
    network = Network([3, 4, 2], seed=12)
    X, y = make_batch("squared_error", 2)

    trace = network.trace(X, y, finite_differences=False)

    assert trace.layers[0].weight_gradient_estimate is None
    assert trace.estimate_differences().size == 0


# Forward-only traces and bad input


def test_forward_only_trace():
    network = Network([3, 4, 2], seed=13)
    X, _ = make_batch("squared_error", 2)

    trace = network.trace(X)

    assert not trace.has_backward
    assert trace.loss is None
    assert trace.layers[0].delta is None
    assert trace.layers[-1].weights_after is None
    np.testing.assert_array_equal(trace.outputs, network.forward(X))
    assert "forward propagation only" in repr(trace)


@pytest.mark.parametrize(
    "X, y, words",
    [
        (np.ones((4, 2)), np.ones((4, 2)), "X must have shape (n_samples, 3)"),
        (np.ones(3), np.ones((1, 2)), "X must have shape"),
        (np.ones((4, 3)), np.ones((3, 2)), "y_true must have shape (4, 2)"),
        (np.full((4, 3), np.nan), np.ones((4, 2)), "X contains NaN"),
        ([["a", "b", "c"]], [[1.0, 2.0]], "X must be numeric"),
    ],
)
def test_trace_rejects_bad_batch(X, y, words):
    network = Network([3, 4, 2], seed=14)

    with pytest.raises(DataError) as raised:
        network.trace(X, y)

    assert words in str(raised.value)


def test_trace_rejects_negative_sample_weight():
    network = Network([3, 4, 2], seed=14)
    X, y = make_batch("squared_error", 2)

    with pytest.raises(DataError, match="non-negative"):
        network.trace(X, y, sample_weight=-np.ones(6))


def test_single_output_accepts_flat_target():
    network = Network([3, 4, 1], seed=15)
    X, y = make_batch("squared_error", 1)

    trace = trace_step(network, X, y[:, 0])

    assert trace.targets.shape == (6, 1)


# Display


def test_repr_lists_every_layer():
    network = Network([3, 4, 2], "tanh", dtype="float64", seed=16)
    X, y = make_batch("squared_error", 2, n_samples=1)

    text = repr(network.trace(X, y))

    assert text.startswith("StepTrace(3 → 4 tanh → 2 identity")
    assert "1 sample)" in text
    assert "LayerTrace(layer 1: 3 → 4 tanh" in text
    assert "LayerTrace(layer 2: 4 → 2 identity" in text
    assert "chain rule against finite differences" in text


def test_repr_html_has_a_table_per_step():
    network = Network([2, 2, 1], "sigmoid", "sigmoid", "binary_cross_entropy", seed=17)

    html = network.trace([[0.0, 1.0]], [[1.0]])._repr_html_()

    assert html.count("<table>") == 5
    assert "Backpropagation" in html
    assert "∂L/∂W₂ = a₁ᵀ·δ₂ / n" in html


def test_repr_html_summarizes_wide_layers():
    network = Network([40, 30, 2], seed=18)
    X, y = make_batch("squared_error", 2, n_features=40)

    html = network.trace(X, y)._repr_html_()

    assert "shape (40, 30)" in html
    assert "largest:" in html


# MLP.trace


@pytest.fixture(scope="module")
def binary_model():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x1": rng.normal(size=60), "color": rng.choice(["red", "blue"], 60)}
    )
    label = pd.Series(np.where(frame["x1"] > 0, "yes", "no"), name="label")
    model = MLP(hidden_layers=(4,), max_epochs=3, learning_rate=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(frame, label)
    return model, frame, label


def test_mlp_trace_uses_encoded_rows(binary_model):
    model, frame, label = binary_model
    before = model.network_.parameters.copy()

    trace = model.trace(frame.iloc[:5], label.iloc[:5])
    inputs = model.preprocessor_.transform(frame.iloc[:5], dtype=np.float32)
    targets = model.target_encoder_.transform(label.iloc[:5].to_frame())
    _, gradients = model.network_.compute_gradients(inputs, targets)

    np.testing.assert_array_equal(flat_gradients(trace), gradients)
    np.testing.assert_array_equal(model.network_.parameters, before)
    assert trace.optimizer["name"] == "adam"
    assert trace.input_names == ["x1", "color=blue", "color=red"]
    assert trace.output_names == ["label=yes"]


def test_mlp_trace_without_target_is_forward_only(binary_model):
    model, frame, _ = binary_model

    trace = model.trace(frame.iloc[:2])

    assert not trace.has_backward
    np.testing.assert_array_equal(trace.outputs, model.predict_outputs(frame.iloc[:2]))


def test_mlp_trace_needs_fitted_model():
    with pytest.raises(NotFittedError):
        MLP().trace(np.ones((1, 2)), [1])


@pytest.mark.parametrize(
    "task, classes, expected",
    [
        ("regression", None, ["price", "cost"]),
        ("binary", ["no", "yes"], ["label=yes"]),
        ("multiclass", ["a", "b", "c"], ["label=a", "label=b", "label=c"]),
    ],
)
def test_output_unit_names(task, classes, expected):
    names = ["price", "cost"] if task == "regression" else ["label"]

    assert output_unit_names(task, names, classes) == expected


def test_every_activation_and_loss_has_a_formula():
    from mlpkit.activations import ACTIVATIONS
    from mlpkit.losses import LOSSES
    from mlpkit.trace_view import ACTIVATION_FORMULAS, LOSS_FORMULAS

    assert set(ACTIVATIONS) <= set(ACTIVATION_FORMULAS)
    assert set(LOSSES) <= set(LOSS_FORMULAS)


@pytest.mark.parametrize("activation", ["elu", "gelu", "softplus", "maxout"])
def test_trace_renders_new_activations(activation):
    rng = np.random.default_rng(0)
    network = Network([3, 4, 2], activation=activation, dtype="float64", seed=0)

    trace = network.trace(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))

    assert activation in repr(trace)
    assert "<table" in trace._repr_html_()


def test_maxout_estimates_match_gradients():
    rng = np.random.default_rng(1)
    network = Network([3, 4, 2], activation="maxout", dtype="float64", seed=1)

    trace = network.trace(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)))

    for layer in trace.layers:
        np.testing.assert_allclose(
            layer.weight_gradient_estimate, layer.weight_gradient, rtol=1e-6, atol=1e-9
        )
