"""Prediction on many rows: Network.forward in row blocks, and the checks beside it.

Forward propagation runs in blocks of rows once the pre-activations and
activations of all rows would exceed ``FORWARD_BLOCK_BYTES``. The tests shrink
that budget so that small inputs run in blocks, and compare with one pass.
Later sections cover the memory check's advice for maxout, sample weights
beyond the float32 range, and plots whose target is a Series or an array.
"""

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP, plotting
from mlpkit import network as network_module
from mlpkit.autoencoder import Autoencoder
from mlpkit.errors import NotFittedError, ParameterError
from mlpkit.network import Network
from mlpkit.sklearn import MLPClassifier, MLPRegressor

# A blocked pass may differ from one pass in the last bits, because OpenBLAS
# picks its kernels and thread split by the number of rows. The differences
# measured on the cases below stay under 2e-6 (float32) and 2e-15 (float64)
# of the largest output, so these bounds leave a wide margin.
RELATIVE_TOLERANCE = {"float32": 1e-5, "float64": 1e-12}

NETWORK_CASES = [
    ((7, 33, 17, 4), "relu", "identity", "squared_error"),
    ((20, 300, 3), "leaky_relu", "softmax", "categorical_cross_entropy"),
    ((5, 64, 64, 2), "gelu", "sigmoid", "binary_cross_entropy"),
    ((50, 257, 129, 10), "tanh", "softmax", "categorical_cross_entropy"),
    ((6, 40, 1), "maxout", "identity", "squared_error"),
    ((3, 1000, 1), "elu", "identity", "squared_error"),
]


@pytest.fixture(autouse=True)
def ignore_training_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def fit_quietly(model, features, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(features, target)


def row_bytes(network: Network) -> int:
    """Return the bytes of ``z`` and ``a`` that one row takes in all layers."""
    values = sum(layer.n_out * (layer.pieces + 1) for layer in network.layers)
    return values * network.dtype.itemsize


def set_block_rows(monkeypatch, network: Network, rows: int) -> None:
    """Shrink the forward budget of ``network`` to ``rows`` rows per block."""
    monkeypatch.setattr(
        network_module, "FORWARD_BLOCK_BYTES", rows * row_bytes(network)
    )


def one_pass_reference(network: Network, X: np.ndarray) -> np.ndarray:
    """Return ŷ computed over all rows at once, layer by layer."""
    activation = np.asarray(X, dtype=network.dtype)
    for layer in network.layers:
        z = activation @ layer.weights
        z += layer.biases
        activation = layer.activation.forward(z)
    return activation


def assert_close_to(actual, expected, dtype_name):
    tolerance = RELATIVE_TOLERANCE[dtype_name]
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * scale)


# One pass for inputs that fit one block


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_rows", [1, 5, 300])
def test_small_input_equals_one_pass_bit_for_bit(dtype, n_rows):
    network = Network([6, 40, 30, 3], "tanh", dtype=dtype, seed=1)
    X = np.random.default_rng(0).normal(size=(n_rows, 6))

    outputs = network.forward(X)

    expected = one_pass_reference(network, X)
    assert outputs.dtype == network.dtype
    assert outputs.tobytes() == expected.tobytes()


def test_small_input_keeps_layer_caches():
    network = Network([4, 9, 2], "relu", seed=0)
    X = np.random.default_rng(1).normal(size=(12, 4))

    network.forward(X)

    hidden = network.layers[0]
    assert hidden.inputs.shape == (12, 4)
    assert hidden.z.shape == (12, 9)
    assert hidden.a.shape == (12, 9)
    assert network.layers[1].a.shape == (12, 2)


def test_one_block_input_single_pass(monkeypatch):
    network = Network([4, 9, 2], "relu", seed=0)
    set_block_rows(monkeypatch, network, 50)

    network.forward(np.ones((50, 4)))

    assert network.layers[0].z.shape == (50, 9)


def test_input_one_row_over_block_runs_in_blocks(monkeypatch):
    network = Network([4, 9, 2], "relu", seed=0)
    set_block_rows(monkeypatch, network, 50)
    X = np.random.default_rng(2).normal(size=(51, 4))

    outputs = network.forward(X)

    assert all(layer.z is None for layer in network.layers)
    assert all(layer.a is None for layer in network.layers)
    assert all(layer.inputs is None for layer in network.layers)
    assert outputs.shape == (51, 2)
    assert_close_to(outputs, one_pass_reference(network, X), "float32")


# Blocks against one pass


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", NETWORK_CASES, ids=lambda case: case[1])
@pytest.mark.parametrize("block_rows", [1, 7, 64, 1000])
def test_blocks_agree_with_one_pass(monkeypatch, dtype, case, block_rows):
    sizes, activation, output_activation, loss = case
    network = Network(sizes, activation, output_activation, loss, dtype, seed=2)
    X = 2.0 * np.random.default_rng(3).normal(size=(3001, sizes[0]))
    expected = one_pass_reference(network, X)
    set_block_rows(monkeypatch, network, block_rows)

    outputs = network.forward(X)

    assert all(layer.z is None for layer in network.layers)
    assert outputs.dtype == network.dtype
    assert outputs.shape == expected.shape
    assert_close_to(outputs, expected, dtype)


def test_blocks_write_every_row_in_order(monkeypatch):
    # An identity network maps each row to itself, so a block written to the
    # wrong rows, or a row left out, changes the output exactly.
    network = Network([3, 3], "identity", dtype="float64", seed=0)
    network.layers[0].weights[...] = np.eye(3)
    set_block_rows(monkeypatch, network, 4)
    X = np.arange(30.0).reshape(10, 3)

    outputs = network.forward(X)

    np.testing.assert_array_equal(outputs, X)


# Memory


def traced_peak_bytes(function, *args) -> int:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_blocked_forward_peak_memory_within_budget(monkeypatch):
    network = Network([8, 500, 3], "relu", seed=0)
    X = np.random.default_rng(4).normal(size=(20_000, 8)).astype(np.float32)
    budget = 2**20
    monkeypatch.setattr(network_module, "FORWARD_BLOCK_BYTES", budget)
    one_pass_bytes = X.shape[0] * row_bytes(network)
    output_bytes = X.shape[0] * 3 * 4

    peak = traced_peak_bytes(network.forward, X)

    assert one_pass_bytes > 50 * budget
    assert peak < 2 * budget + output_bytes


def test_default_budget_bounds_large_predictions():
    network = Network([2, 2000, 1], "relu", seed=0)
    budget = network_module.FORWARD_BLOCK_BYTES
    n_rows = 3 * budget // row_bytes(network)
    X = np.ones((n_rows, 2), dtype=np.float32)

    peak = traced_peak_bytes(network.forward, X)

    assert peak < 1.25 * budget + n_rows * 4


# Every prediction path goes through the blocks


@pytest.fixture(scope="module")
def classification_data():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    y = np.where(X["a"] + X["b"] > 0, "up", np.where(X["c"] > 0, "left", "right"))
    return X, pd.Series(y, name="direction")


def test_mlp_predictions_in_blocks_match_one_pass(monkeypatch, classification_data):
    X, y = classification_data
    model = MLP(hidden_layers=(16,), max_epochs=5, seed=0).fit(X, y)
    expected_proba = model.predict_proba(X)
    expected_labels = model.predict(X)
    monkeypatch.setattr(network_module, "FORWARD_BLOCK_BYTES", 1)

    proba = model.predict_proba(X)
    labels = model.predict(X)

    assert model.network_.layers[0].z is None
    assert_close_to(proba, expected_proba, "float32")
    np.testing.assert_array_equal(labels, expected_labels)


def test_mlp_array_predictions_in_blocks(monkeypatch):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = MLP(hidden_layers=(8,), max_epochs=5, seed=0).fit(X, y)
    expected = model.predict(X)
    monkeypatch.setattr(network_module, "FORWARD_BLOCK_BYTES", 1)

    predicted = model.predict(X)

    assert model.network_.layers[0].z is None
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)


def test_sklearn_estimators_predict_in_blocks(monkeypatch):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(150, 4))
    labels = (X[:, 0] > 0).astype(int)
    targets = X[:, 1] - X[:, 2]
    settings = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}
    classifier = MLPClassifier(**settings).fit(X, labels)
    regressor = MLPRegressor(**settings).fit(X, targets)
    expected_proba = classifier.predict_proba(X)
    expected_values = regressor.predict(X)
    monkeypatch.setattr(network_module, "FORWARD_BLOCK_BYTES", 1)

    proba = classifier.predict_proba(X)
    values = regressor.predict(X)

    assert classifier.network_.layers[0].z is None
    assert regressor.network_.layers[0].z is None
    assert_close_to(proba, expected_proba, "float32")
    np.testing.assert_allclose(values, expected_values, rtol=1e-5, atol=1e-5)


def test_autoencoder_reconstructs_in_blocks(monkeypatch):
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(size=(120, 5)), columns=list("abcde"))
    model = Autoencoder(max_epochs=3, learning_rate=0.01).fit(frame)
    expected = model.reconstruct(frame)
    monkeypatch.setattr(network_module, "FORWARD_BLOCK_BYTES", 1)

    reconstructed = model.reconstruct(frame)

    assert model.network_.layers[0].z is None
    assert_close_to(reconstructed, expected, "float32")


def test_training_weights_unchanged_by_blocks(monkeypatch, classification_data):
    # Training propagates its batches with dropout masks in one pass, and
    # validation goes through forward, so only the budget differs here.
    X, y = classification_data
    settings = {
        "hidden_layers": (16,),
        "max_epochs": 4,
        "seed": 3,
        "hidden_dropout": 0.2,
    }
    expected = MLP(**settings).fit(X, y).network_.parameters.copy()
    monkeypatch.setattr(network_module, "FORWARD_BLOCK_BYTES", 1)

    parameters = MLP(**settings).fit(X, y).network_.parameters

    assert parameters.tobytes() == expected.tobytes()


# Memory check of maxout networks


def test_memory_error_names_maxout_pieces(monkeypatch):
    monkeypatch.setattr(network_module, "physical_memory_bytes", lambda: 2**30)

    with pytest.raises(ParameterError) as caught:
        Network([4, 50, 3], "maxout", maxout_pieces=10**6)

    message = str(caught.value)
    assert "use fewer hidden units or a smaller maxout_pieces" in message
    assert "(now 1,000,000)" in message
    assert caught.value.parameter == "layer_sizes"


def test_memory_error_without_maxout_omits_pieces(monkeypatch):
    monkeypatch.setattr(network_module, "physical_memory_bytes", lambda: 2**20)

    with pytest.raises(ParameterError) as caught:
        Network([4, 5000, 3], "relu")

    message = str(caught.value)
    assert message.endswith("use fewer hidden units")
    assert "maxout_pieces" not in message


def test_fit_memory_error_names_maxout_pieces():
    X = np.random.default_rng(9).normal(size=(20, 4))
    y = np.arange(20) % 3
    model = MLP(hidden_layers=(4,), activation="maxout", maxout_pieces=10**9)

    with pytest.raises(ParameterError, match="a smaller maxout_pieces") as caught:
        model.fit(X, y)

    assert caught.value.parameter == "hidden_layers"


# Sample weights beyond the network's dtype


def weighted_gradients(network: Network, X, y, weights) -> np.ndarray:
    _, gradients = network.compute_gradients(X, y, weights)
    return gradients.copy()


@pytest.mark.parametrize("weight", [1e300, 1e-50, 1e39])
def test_gradients_of_extreme_equal_weights_match_unit_weights(weight):
    network = Network([3, 6, 1], "tanh", seed=0)
    rng = np.random.default_rng(10)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=(40, 1))
    expected = weighted_gradients(network, X, y, np.ones(40))

    gradients = weighted_gradients(network, X, y, np.full(40, weight))

    assert np.all(np.isfinite(gradients))
    np.testing.assert_allclose(gradients, expected, rtol=1e-5, atol=1e-7)


def test_gradients_keep_ratios_of_huge_weights():
    network = Network([3, 6, 1], "tanh", seed=0)
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=(40, 1))
    ratios = rng.uniform(0.5, 4.0, size=40)
    expected = weighted_gradients(network, X, y, ratios)

    gradients = weighted_gradients(network, X, y, ratios * 1e300)

    np.testing.assert_allclose(gradients, expected, rtol=1e-5, atol=1e-7)


def test_ordinary_weights_give_same_gradients_as_before():
    # Weights within the float32 range take the plain cast, bit for bit.
    network = Network([3, 6, 1], "tanh", seed=0)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)
    weights = rng.uniform(0.1, 3.0, size=40)
    network.compute_gradients(X, y, weights)
    layer = network.layers[0]
    delta = layer.delta
    scale = weights.astype(np.float32)
    scale = (scale / scale.sum())[:, np.newaxis]

    expected = X.T @ (delta * scale)

    assert layer.weight_gradient.tobytes() == expected.tobytes()


def test_fit_with_huge_sample_weights_matches_unit_weights():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] - X[:, 1]
    settings = {"hidden_layers": (6,), "max_epochs": 5, "optimizer": "sgd", "seed": 0}
    expected = MLP(**settings).fit(X, y, sample_weight=np.ones(60)).predict(X)

    predicted = MLP(**settings).fit(X, y, sample_weight=np.full(60, 1e300)).predict(X)

    np.testing.assert_allclose(predicted, expected, rtol=1e-4, atol=1e-4)


# Plots of a model with a Series or array target


@pytest.fixture(scope="module")
def plotted_classifier():
    rng = np.random.default_rng(14)
    features = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    target = pd.Series(np.where(features["a"] > 0, "east", "west"), name="side")
    model = fit_quietly(MLP(hidden_layers=(6,), max_epochs=5), features, target)
    return model, features, target


@pytest.fixture(scope="module")
def plotted_regressor():
    rng = np.random.default_rng(15)
    features = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    target = pd.Series(features["a"] - 2 * features["b"], name="height")
    model = fit_quietly(MLP(hidden_layers=(6,), max_epochs=5), features, target)
    return model, features, target


def target_forms(target: pd.Series) -> dict:
    return {
        "series": target,
        "unnamed series": target.rename(None),
        "array": target.to_numpy(),
        "list": target.tolist(),
        "frame": target.to_frame(),
    }


@pytest.mark.parametrize("form", ["series", "unnamed series", "array", "list", "frame"])
def test_plot_model_classifier_accepts_target_form(plotted_classifier, form):
    pytest.importorskip("matplotlib")
    model, features, target = plotted_classifier

    figure = plotting.plot_model(model, features, target_forms(target)[form])

    titles = [ax.get_title() for ax in figure.axes]
    assert any(title.startswith("Confusion matrix") for title in titles)
    assert "Decision boundary" in titles


@pytest.mark.parametrize("form", ["series", "unnamed series", "array", "list", "frame"])
def test_plot_model_regressor_accepts_target_form(plotted_regressor, form):
    pytest.importorskip("matplotlib")
    model, features, target = plotted_regressor

    figure = plotting.plot_model(model, features, target_forms(target)[form])

    titles = [ax.get_title() for ax in figure.axes]
    assert any(title.startswith("Predicted against true") for title in titles)
    assert "Predicted height over the inputs" in titles


def test_decision_boundary_legend_names_unnamed_target(plotted_classifier):
    pytest.importorskip("matplotlib")
    model, features, target = plotted_classifier
    ax = plotting.new_figure(5, 4).subplots()

    plotting.draw_decision_boundary(ax, model, features, target.to_numpy())

    legend = ax.get_legend()
    assert legend.get_title().get_text() == "side"
    assert sorted(text.get_text() for text in legend.get_texts()) == ["east", "west"]


def test_decision_boundary_rejects_target_of_other_length(plotted_classifier):
    pytest.importorskip("matplotlib")
    model, features, target = plotted_classifier
    ax = plotting.new_figure(5, 4).subplots()

    with pytest.raises(ValueError, match="features have 80 rows but the target has 79"):
        plotting.draw_decision_boundary(ax, model, features, target[:79])


def unfitted_message() -> str:
    with pytest.raises(NotFittedError) as caught:
        MLP().predict(np.ones((1, 2)))
    return str(caught.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda model: plotting.plot_model(model),
        lambda model: plotting.plot_model(model, pd.DataFrame({"a": [1.0]}), [0]),
        lambda model: plotting.plot_model_network(model),
        lambda model: plotting.two_numeric_inputs(model),
        lambda model: plotting.draw_decision_boundary(None, model, pd.DataFrame()),
    ],
    ids=["plot_model", "plot_model_data", "network", "two_inputs", "boundary"],
)
def test_plots_of_unfitted_model_raise_not_fitted(call):
    with pytest.raises(NotFittedError) as caught:
        call(MLP())

    assert str(caught.value) == unfitted_message()


def test_plot_model_rejects_a_path():
    with pytest.raises(ParameterError, match="pass MLP.load"):
        plotting.plot_model("model.mlpkit")
