"""Regularization in the engine: L1 and L2 penalties, dropout and max-norm.

Gradients are checked in float64 against central finite differences with the
dropout masks held fixed, and the penalty gradients against PyTorch's autograd
of the same penalized loss.
"""

import copy
import json
import pickle

import numpy as np
import pytest
import torch

from mlpkit.blocks import ShuffledBatches
from mlpkit.checkpoints import (
    TrainingProgress,
    checkpoint_contents,
    read_resume_state,
)
from mlpkit.errors import ModelFileError, ParameterError
from mlpkit.finite_differences import estimate_gradients
from mlpkit.history import History
from mlpkit.lbfgs import train_lbfgs
from mlpkit.network import Network
from mlpkit.optimizers import SGD, Adam
from mlpkit.streaming import _run_epoch as run_streaming_epoch
from mlpkit.training import StoppingRule, run_epoch, train

MAX_RELATIVE_ERROR = 1e-6
ABSOLUTE_FLOOR = 1e-4


def make_data(n_samples=40, n_features=4, n_outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    y = rng.normal(size=(n_samples, n_outputs))
    return X, y


def assert_gradients_close(gradients, estimates):
    scale = np.maximum(np.abs(estimates), ABSOLUTE_FLOOR)
    relative = np.abs(gradients - estimates) / scale
    assert relative.max() < MAX_RELATIVE_ERROR


# --- parameter checks and config -------------------------------------------


@pytest.mark.parametrize(
    "options, named",
    [
        ({"l1": -0.1}, "l1=-0.1"),
        ({"l1": True}, "l1=True"),
        ({"l2": float("inf")}, "l2=inf"),
        ({"l2": float("nan")}, "l2=nan"),
        ({"l2": "0.1"}, "l2='0.1'"),
        ({"input_dropout": 1.0}, "input_dropout=1.0"),
        ({"input_dropout": -0.2}, "input_dropout=-0.2"),
        ({"hidden_dropout": 1.5}, "hidden_dropout=1.5"),
        ({"hidden_dropout": [0.1]}, "hidden_dropout=[0.1]"),
        ({"hidden_dropout": [0.1, 1.0]}, "hidden_dropout[1]=1.0"),
        ({"hidden_dropout": "0.5"}, "hidden_dropout='0.5'"),
        ({"max_norm": 0.0}, "max_norm=0.0"),
        ({"max_norm": -1.0}, "max_norm=-1.0"),
        ({"max_norm": float("inf")}, "max_norm=inf"),
    ],
)
def test_invalid_setting_rejected(options, named):
    with pytest.raises(ParameterError, match=named.replace("[", r"\[")):
        Network([3, 5, 4, 1], **options)


def test_default_config_has_no_regularization_keys():
    config = Network([3, 5, 1]).get_config()
    for key in ("l1", "l2", "input_dropout", "hidden_dropout", "max_norm"):
        assert key not in config


def test_zero_rate_list_left_out_of_config():
    config = Network([3, 5, 4, 1], hidden_dropout=[0.0, 0.0]).get_config()
    assert "hidden_dropout" not in config


@pytest.mark.parametrize("hidden_dropout", [0.5, [0.2, 0.0]])
def test_config_round_trip(hidden_dropout):
    network = Network(
        [3, 5, 4, 1],
        seed=2,
        l1=0.01,
        l2=0.02,
        input_dropout=0.1,
        hidden_dropout=hidden_dropout,
        max_norm=3.0,
    )
    config = json.loads(json.dumps(network.get_config()))
    rebuilt = Network.from_config(config, network.get_arrays())
    assert rebuilt.get_config() == network.get_config()
    assert rebuilt.dropout_rates == network.dropout_rates
    np.testing.assert_array_equal(rebuilt.parameters, network.parameters)


def test_dropout_rates_per_layer():
    network = Network([3, 5, 4, 1], input_dropout=0.1, hidden_dropout=[0.2, 0.3])
    assert network.dropout_rates == (0.1, 0.2, 0.3)


def test_settings_keep_initial_weights():
    plain = Network([3, 5, 4, 1], seed=7)
    regularized = Network(
        [3, 5, 4, 1],
        seed=7,
        l2=0.1,
        input_dropout=0.2,
        hidden_dropout=0.5,
        max_norm=1.0,
    )
    np.testing.assert_array_equal(regularized.parameters, plain.parameters)


def test_repr_mentions_regularization():
    text = repr(Network([3, 5, 1], l2=0.01, hidden_dropout=0.5, max_norm=2.0))
    assert "l2=0.01" in text
    assert "hidden_dropout=0.5" in text
    assert "max_norm=2.0" in text


def test_repr_without_regularization_unchanged():
    text = repr(Network([3, 5, 1]))
    assert text.endswith("dtype=float32)")


# --- penalties --------------------------------------------------------------


def test_training_loss_adds_penalty():
    X, y = make_data()
    network = Network(
        [4, 6, 2], activation="tanh", dtype="float64", seed=0, l1=0.03, l2=0.2
    )
    weights = [layer.weights for layer in network.layers]
    expected_penalty = 0.03 * sum(np.abs(w).sum() for w in weights) + 0.1 * sum(
        np.square(w).sum() for w in weights
    )
    loss, _ = network.compute_gradients(X, y)
    assert network.penalty() == pytest.approx(expected_penalty, rel=1e-12)
    assert loss == pytest.approx(network.loss_value(X, y) + expected_penalty, rel=1e-12)


def test_penalty_leaves_biases_alone():
    X, y = make_data()
    plain = Network([4, 6, 2], activation="tanh", dtype="float64", seed=0)
    penalized = Network([4, 6, 2], activation="tanh", dtype="float64", seed=0, l1=0.5)
    for network in (plain, penalized):
        network.layers[0].biases[...] = 1.0
        network.compute_gradients(X, y)
    for index in range(2):
        np.testing.assert_array_equal(
            penalized.layers[index].bias_gradient, plain.layers[index].bias_gradient
        )


def test_penalty_independent_of_batch_size():
    network = Network([4, 6, 2], dtype="float64", seed=0, l2=0.3)
    small = network.compute_gradients(*make_data(n_samples=5))[0]
    small_penalty = small - network.loss_value(*make_data(n_samples=5))
    large = network.compute_gradients(*make_data(n_samples=500))[0]
    large_penalty = large - network.loss_value(*make_data(n_samples=500))
    assert small_penalty == pytest.approx(large_penalty, rel=1e-9)


@pytest.mark.parametrize("l1, l2", [(0.05, 0.0), (0.0, 0.3), (0.02, 0.1)])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu"])
def test_penalty_gradient_matches_finite_differences(l1, l2, activation):
    X, y = make_data()
    network = Network(
        [4, 6, 5, 2], activation=activation, dtype="float64", seed=1, l1=l1, l2=l2
    )
    _, gradients = network.compute_gradients(X, y)
    assert_gradients_close(gradients, estimate_gradients(network, X, y))


@pytest.mark.parametrize("l1, l2", [(0.05, 0.0), (0.0, 0.3), (0.02, 0.1)])
def test_penalty_gradient_matches_torch(l1, l2):
    X, y = make_data()
    network = Network(
        [4, 6, 2], activation="tanh", dtype="float64", seed=3, l1=l1, l2=l2
    )
    loss, gradients = network.compute_gradients(X, y)

    first, second = network.layers
    W1 = torch.tensor(first.weights, requires_grad=True)
    b1 = torch.tensor(first.biases, requires_grad=True)
    W2 = torch.tensor(second.weights, requires_grad=True)
    b2 = torch.tensor(second.biases, requires_grad=True)
    outputs = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
    data_loss = 0.5 * ((outputs - torch.tensor(y)) ** 2).sum(dim=1).mean()
    penalty = sum(l1 * W.abs().sum() + 0.5 * l2 * (W**2).sum() for W in (W1, W2))
    torch_loss = data_loss + penalty
    torch_loss.backward()

    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(first.weight_gradient, W1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(second.weight_gradient, W2.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(first.bias_gradient, b1.grad.numpy(), rtol=1e-10)


def test_validation_loss_is_data_loss():
    X, y = make_data()
    plain = Network([4, 6, 2], dtype="float64", seed=0)
    penalized = Network([4, 6, 2], dtype="float64", seed=0, l2=1.0)
    assert penalized.loss_value(X, y) == plain.loss_value(X, y)


# --- dropout ----------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu", "maxout"])
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_dropout_gradient_matches_finite_differences(activation, l2):
    X, y = make_data()
    network = Network(
        [4, 6, 5, 2],
        activation=activation,
        dtype="float64",
        seed=4,
        l2=l2,
        input_dropout=0.2,
        hidden_dropout=[0.5, 0.3],
    )
    # Biases start at 0, so a row whose inputs are all dropped would put z
    # exactly on the kink of relu and maxout, where differences disagree.
    for layer in network.layers:
        layer.biases[...] = np.random.default_rng(0).normal(0.0, 0.5, layer.biases.size)
    masks = network.draw_dropout_masks(X.shape[0])
    _, gradients = network.compute_gradients(X, y, dropout_masks=masks)
    estimates = estimate_gradients(network, X, y, dropout_masks=masks)
    assert_gradients_close(gradients, estimates)


def test_drawn_masks_match_layer_caches():
    X, y = make_data()
    network = Network([4, 6, 2], dtype="float64", seed=4, input_dropout=0.3)
    network.compute_gradients(X, y)
    mask = network.layers[0].input_mask
    np.testing.assert_array_equal(network.layers[0].inputs, X * mask)
    assert network.layers[1].input_mask is None


def test_dropout_gradient_matches_torch_with_same_masks():
    X, y = make_data()
    network = Network(
        [4, 6, 2],
        activation="tanh",
        dtype="float64",
        seed=5,
        l2=0.1,
        input_dropout=0.25,
        hidden_dropout=0.5,
    )
    masks = network.draw_dropout_masks(X.shape[0])
    loss, _ = network.compute_gradients(X, y, dropout_masks=masks)

    first, second = network.layers
    W1 = torch.tensor(first.weights, requires_grad=True)
    W2 = torch.tensor(second.weights, requires_grad=True)
    inputs = torch.tensor(X) * torch.tensor(masks[0])
    hidden = torch.tanh(inputs @ W1 + torch.tensor(first.biases))
    outputs = (hidden * torch.tensor(masks[1])) @ W2 + torch.tensor(second.biases)
    data_loss = 0.5 * ((outputs - torch.tensor(y)) ** 2).sum(dim=1).mean()
    torch_loss = data_loss + 0.05 * ((W1**2).sum() + (W2**2).sum())
    torch_loss.backward()

    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(first.weight_gradient, W1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(second.weight_gradient, W2.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_mask_mean_is_one(rate):
    network = Network([5, 3, 1], dtype="float64", seed=0, input_dropout=rate)
    n_samples = 100_000
    mask = network.draw_dropout_masks(n_samples)[0]
    # Each entry has mean 1 and variance p / (1 − p). Allow 5 standard errors.
    standard_error = np.sqrt(rate / (1 - rate) / mask.size)
    assert abs(mask.mean() - 1.0) < 5 * standard_error
    assert np.mean(mask == 0) == pytest.approx(rate, abs=0.01)
    kept_entries = mask[mask != 0]
    np.testing.assert_allclose(kept_entries, 1 / (1 - rate), rtol=1e-15)


def test_hidden_dropout_keeps_expected_activation():
    network = Network(
        [3, 8, 4, 1], activation="tanh", dtype="float64", seed=0, hidden_dropout=0.4
    )
    n_samples = 50_000
    X = np.tile([[0.5, -1.0, 2.0]], (n_samples, 1))
    y = np.zeros((n_samples, 1))
    network.compute_gradients(X, y)
    for index in (1, 2):
        # The mask is independent of a, so E[a ⊙ m] = E[a]. The first hidden
        # layer's a is the same in every row, the second's varies with the
        # masks of the first. Allow 5 standard errors of the mean.
        activation = network.layers[index - 1].a.mean(axis=0)
        received = network.layers[index].inputs
        standard_error = received.std(axis=0) / np.sqrt(n_samples)
        difference = np.abs(received.mean(axis=0) - activation)
        assert np.all(difference <= 5 * standard_error)


def test_forward_never_drops():
    X, _ = make_data()
    plain = Network([4, 6, 5, 2], seed=0)
    dropped = Network([4, 6, 5, 2], seed=0, input_dropout=0.5, hidden_dropout=0.5)
    first = dropped.forward(X)
    np.testing.assert_array_equal(first, dropped.forward(X))
    np.testing.assert_array_equal(first, plain.forward(X))
    assert all(layer.input_mask is None for layer in dropped.layers)


def test_loss_value_never_drops():
    X, y = make_data()
    plain = Network([4, 6, 2], seed=0)
    dropped = Network([4, 6, 2], seed=0, hidden_dropout=0.5)
    assert dropped.loss_value(X, y) == plain.loss_value(X, y)


def test_training_pass_drops():
    X, y = make_data()
    plain = Network([4, 6, 2], seed=0)
    dropped = Network([4, 6, 2], seed=0, hidden_dropout=0.5)
    assert dropped.compute_gradients(X, y)[0] != plain.compute_gradients(X, y)[0]


def test_forward_after_training_pass_clears_masks():
    X, y = make_data()
    network = Network([4, 6, 2], seed=0, input_dropout=0.5, hidden_dropout=0.5)
    network.compute_gradients(X, y)
    network.forward(X)
    assert all(layer.input_mask is None for layer in network.layers)


def test_dropout_masks_follow_seed():
    first = Network([4, 6, 2], seed=3, hidden_dropout=0.5).draw_dropout_masks(10)
    second = Network([4, 6, 2], seed=3, hidden_dropout=0.5).draw_dropout_masks(10)
    other = Network([4, 6, 2], seed=4, hidden_dropout=0.5).draw_dropout_masks(10)
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])


def test_dropout_state_round_trip_through_json():
    network = Network([4, 6, 2], seed=3, hidden_dropout=0.5)
    network.draw_dropout_masks(10)
    state = json.loads(json.dumps(network.get_dropout_state()))
    expected = network.draw_dropout_masks(10)[1]
    network.set_dropout_state(state)
    np.testing.assert_array_equal(network.draw_dropout_masks(10)[1], expected)


def test_invalid_dropout_state_rejected():
    network = Network([4, 6, 2], hidden_dropout=0.5)
    with pytest.raises(ParameterError, match="invalid dropout generator state"):
        network.set_dropout_state({"bit_generator": "MT19937"})


def pickle_round_trip(network):
    return pickle.loads(pickle.dumps(network))


@pytest.mark.parametrize("duplicate", [copy.deepcopy, pickle_round_trip])
def test_copies_keep_dropout_state(duplicate):
    network = Network([4, 6, 2], seed=3, hidden_dropout=0.5)
    network.draw_dropout_masks(10)
    copied = duplicate(network)
    np.testing.assert_array_equal(
        copied.draw_dropout_masks(10)[1], network.draw_dropout_masks(10)[1]
    )


def test_trace_estimates_use_step_masks():
    X, y = make_data(n_samples=6)
    network = Network(
        [4, 5, 2],
        activation="tanh",
        dtype="float64",
        seed=2,
        l1=0.01,
        input_dropout=0.3,
        hidden_dropout=0.5,
    )
    trace = network.trace(X, y)
    assert trace.estimate_differences().max() < 1e-7
    assert trace.layers[0].input_mask is not None


def test_trace_draws_masks_of_next_step():
    X, y = make_data(n_samples=6)
    network = Network([4, 5, 2], seed=2, hidden_dropout=0.5)
    trace = network.trace(X, y)
    network.compute_gradients(X, y)
    np.testing.assert_array_equal(
        trace.layers[1].input_mask, network.layers[1].input_mask
    )


def test_trace_hidden_delta_includes_mask():
    X, y = make_data(n_samples=6)
    network = Network([4, 5, 2], activation="tanh", seed=2, hidden_dropout=0.5)
    hidden = network.trace(X, y).layers[0]
    np.testing.assert_allclose(
        hidden.activation_gradient * hidden.slope, hidden.delta, rtol=1e-5, atol=1e-7
    )


def test_trace_loss_after_uses_step_masks():
    X, y = make_data(n_samples=6)
    network = Network([4, 5, 2], dtype="float64", seed=2, hidden_dropout=0.5, l2=0.1)
    trace = network.trace(X, y, update=True)
    masks = [layer.input_mask for layer in trace.layers]
    expected = network.training_loss(X, y, dropout_masks=masks)
    assert trace.loss_after == pytest.approx(expected, rel=1e-12)


# --- max-norm ---------------------------------------------------------------


def column_norms(network):
    return [np.linalg.norm(layer.weights, axis=0) for layer in network.layers]


def test_apply_constraints_caps_each_column():
    network = Network([4, 6, 2], dtype="float64", seed=0, max_norm=0.5)
    network.parameters *= 10.0
    network.apply_constraints()
    for norms in column_norms(network):
        assert norms.max() <= 0.5 * (1 + 1e-12)
        np.testing.assert_allclose(norms, 0.5)


def test_apply_constraints_keeps_short_columns():
    network = Network([4, 6, 2], dtype="float64", seed=0, max_norm=0.5)
    layer = network.layers[0]
    layer.weights[:, 0] = [0.1, 0.0, 0.0, 0.0]
    layer.weights[:, 1] = 0.0
    layer.weights[:, 2:] *= 100.0
    before = layer.weights.copy()
    network.apply_constraints()
    np.testing.assert_array_equal(layer.weights[:, :2], before[:, :2])
    np.testing.assert_allclose(np.linalg.norm(layer.weights[:, 2:], axis=0), 0.5)


def test_apply_constraints_leaves_biases():
    network = Network([4, 6, 2], seed=0, max_norm=0.01)
    network.layers[0].biases[...] = 5.0
    network.apply_constraints()
    np.testing.assert_array_equal(network.layers[0].biases, 5.0)


def test_maxout_constraint_per_piece():
    network = Network(
        [4, 3, 1], activation="maxout", maxout_pieces=3, seed=0, max_norm=0.2
    )
    network.parameters *= 10.0
    network.apply_constraints()
    hidden = network.layers[0]
    assert hidden.weights.shape == (4, 9)
    norms = np.linalg.norm(hidden.weights, axis=0)
    assert norms.max() <= 0.2 * (1 + 1e-6)


def test_without_max_norm_constraints_do_nothing():
    network = Network([4, 6, 2], seed=0)
    before = network.parameters.copy()
    network.parameters *= 100.0
    network.apply_constraints()
    np.testing.assert_array_equal(network.parameters, before * 100.0)


class NormSpy:
    """Records the largest column norm each time a batch starts."""

    def __init__(self, network):
        self.network = network
        self.largest = []
        self.compute_gradients = network.compute_gradients
        network.compute_gradients = self

    def __call__(self, *args, **kwargs):
        norms = column_norms(self.network)
        self.largest.append(max(float(n.max()) for n in norms))
        return self.compute_gradients(*args, **kwargs)


def test_max_norm_after_every_train_update():
    X, y = make_data(n_samples=60)
    network = Network([4, 16, 2], seed=0, max_norm=0.8)
    spy = NormSpy(network)
    train(
        network,
        SGD(learning_rate=0.5),
        X.astype(np.float32),
        y.astype(np.float32),
        batch_size=8,
        stopping=StoppingRule(max_epochs=5, patience=100),
        rng=np.random.default_rng(0),
        warn_on_max_epochs=False,
        restore_best=False,
    )
    # The first batch runs on the initial weights, before any update.
    assert len(spy.largest) == 5 * 8
    assert spy.largest[0] > 0.8
    assert max(spy.largest[1:]) <= 0.8 * (1 + 1e-6)
    assert max(float(n.max()) for n in column_norms(network)) <= 0.8 * (1 + 1e-6)


def test_max_norm_holds_after_run_epoch():
    X, y = make_data(n_samples=30)
    network = Network([4, 16, 2], seed=0, max_norm=0.6)
    spy = NormSpy(network)
    run_epoch(network, Adam(learning_rate=0.1), X, y, None, 5, None)
    assert max(spy.largest[1:]) <= 0.6 * (1 + 1e-6)
    assert max(float(n.max()) for n in column_norms(network)) <= 0.6 * (1 + 1e-6)


class ArrayBlocks:
    """Encoded blocks served from arrays in memory."""

    def __init__(self, X, y, block_rows):
        self.X = X
        self.y = y
        self.block_rows = block_rows
        self.n_inputs = X.shape[1]
        self.n_outputs = y.shape[1]
        self.dtype = X.dtype

    def read(self, index):
        rows = slice(index * self.block_rows, (index + 1) * self.block_rows)
        return self.X[rows], self.y[rows]


def test_max_norm_holds_after_streaming_epoch():
    X, y = make_data(n_samples=40)
    X = X.astype(np.float32)
    y = y.astype(np.float32)
    network = Network([4, 16, 2], seed=0, max_norm=0.7)
    spy = NormSpy(network)
    batches = ShuffledBatches(ArrayBlocks(X, y, 10), 5, np.random.default_rng(0))
    run_streaming_epoch(network, SGD(learning_rate=0.5), batches, np.arange(4), 8, None)
    assert len(spy.largest) == 8
    assert max(spy.largest[1:]) <= 0.7 * (1 + 1e-6)
    assert max(float(n.max()) for n in column_norms(network)) <= 0.7 * (1 + 1e-6)


# --- L-BFGS -----------------------------------------------------------------


@pytest.mark.parametrize(
    "options, named",
    [
        ({"input_dropout": 0.2}, "dropout"),
        ({"hidden_dropout": 0.5}, "dropout"),
        ({"max_norm": 1.0}, "max_norm=1.0"),
    ],
)
def test_lbfgs_rejects_stochastic_or_constrained(options, named):
    X, y = make_data()
    network = Network([4, 6, 2], seed=0, **options)
    with pytest.raises(ParameterError, match=named):
        train_lbfgs(network, X, y, max_iterations=2)


def test_lbfgs_accepts_l2():
    X, y = make_data()
    network = Network([4, 6, 2], dtype="float64", seed=0, l2=0.1)
    history = train_lbfgs(network, X, y, max_iterations=5, warn_if_not_converged=False)
    assert history.epochs >= 1


# --- checkpoints ------------------------------------------------------------


def train_with_dropout(
    X,
    y,
    network,
    optimizer,
    rng,
    progress=None,
    stop_requested=None,
    on_checkpoint=None,
):
    return train(
        network,
        optimizer,
        X,
        y,
        batch_size=7,
        stopping=StoppingRule(max_epochs=4, patience=100),
        rng=rng,
        warn_on_max_epochs=False,
        progress=progress,
        on_checkpoint=on_checkpoint,
        stop_requested=stop_requested,
    )


def make_dropout_network():
    return Network(
        [4, 8, 2], seed=11, input_dropout=0.2, hidden_dropout=0.5, l2=0.01, max_norm=2.0
    )


def interrupt_and_resume(stop_after_batches, restore_dropout):
    """Return the weights of a resumed training and of an uninterrupted one."""
    X, y = make_data(n_samples=40)
    X = X.astype(np.float32)
    y = y.astype(np.float32)

    uninterrupted = make_dropout_network()
    rng = np.random.default_rng(5)
    train_with_dropout(X, y, uninterrupted, Adam(learning_rate=0.01), rng)

    network = make_dropout_network()
    optimizer = Adam(learning_rate=0.01)
    calls = []
    saved = {}

    def stop_requested():
        calls.append(None)
        return len(calls) >= stop_after_batches

    def on_checkpoint(progress):
        section, arrays = checkpoint_contents(
            progress, optimizer, "data", network=network
        )
        saved["section"] = json.loads(json.dumps(section))
        saved["arrays"] = copy.deepcopy(arrays)
        saved["weights"] = copy.deepcopy(network.get_arrays())
        saved["history"] = copy.deepcopy(progress.history)

    train_with_dropout(
        X,
        y,
        network,
        optimizer,
        np.random.default_rng(5),
        stop_requested=stop_requested,
        on_checkpoint=on_checkpoint,
    )

    resumed = Network.from_config(network.get_config(), saved["weights"])
    state = read_resume_state(
        {"checkpoint": saved["section"]},
        saved["arrays"],
        saved["history"],
        resumed.parameters,
        "memory",
    )
    if restore_dropout:
        resumed.set_dropout_state(state.dropout_state)
    resumed_optimizer = Adam(learning_rate=0.01)
    resumed_optimizer.set_state(state.optimizer_iterations, state.optimizer_state)
    rng = np.random.default_rng()
    rng.bit_generator.state = state.rng_state
    train_with_dropout(X, y, resumed, resumed_optimizer, rng, progress=state.progress)
    return resumed.parameters, uninterrupted.parameters


@pytest.mark.parametrize("stop_after_batches", [3, 6, 13])
def test_resume_with_dropout_matches_uninterrupted(stop_after_batches):
    resumed, uninterrupted = interrupt_and_resume(stop_after_batches, True)
    np.testing.assert_array_equal(resumed, uninterrupted)


def test_resume_without_dropout_state_differs():
    resumed, uninterrupted = interrupt_and_resume(3, False)
    assert not np.array_equal(resumed, uninterrupted)


def test_checkpoint_stores_dropout_state():
    network = make_dropout_network()
    progress = TrainingProgress(History())
    progress.best_parameters = network.parameters.copy()
    optimizer = SGD(learning_rate=0.1)
    section, arrays = checkpoint_contents(progress, optimizer, "data", network=network)
    state = read_resume_state(
        {"checkpoint": section}, arrays, History(), network.parameters, "memory"
    )
    assert state.dropout_state == network.get_dropout_state()


def test_checkpoint_without_dropout_has_no_dropout_state():
    network = Network([4, 8, 2], seed=0, l2=0.1)
    progress = TrainingProgress(History())
    progress.best_parameters = network.parameters.copy()
    optimizer = SGD(learning_rate=0.1)
    section, _ = checkpoint_contents(progress, optimizer, "data", network=network)
    assert "dropout_rng_state" not in section


def test_damaged_dropout_state_rejected():
    network = make_dropout_network()
    progress = TrainingProgress(History())
    progress.best_parameters = network.parameters.copy()
    optimizer = SGD(learning_rate=0.1)
    section, arrays = checkpoint_contents(progress, optimizer, "data", network=network)
    section["dropout_rng_state"] = {"bit_generator": "PCG64", "state": "broken"}
    with pytest.raises(ModelFileError, match="invalid checkpoint section"):
        read_resume_state(
            {"checkpoint": section}, arrays, History(), network.parameters, "memory"
        )
