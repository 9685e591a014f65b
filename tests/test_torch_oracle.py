"""PyTorch as the oracle: forward pass, loss, gradients and optimizer steps in float64.

Each case builds the same network twice, as an mlpkit ``Network`` and as plain
PyTorch tensors with the same weights, and compares what the two compute.
PyTorch's autograd and ``torch.optim`` were written independently of mlpkit,
so agreement to a relative 1e-6 checks the engine's formulas, not a copy of
them.
"""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

from mlpkit.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from mlpkit.losses import LOSSES
from mlpkit.network import Network
from mlpkit.optimizers import SGD, Adam
from mlpkit.training import run_epoch

RTOL = 1e-6

TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    # mlpkit's leaky relu slope is 0.01, which is also PyTorch's default.
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    # PyTorch's defaults are mlpkit's: α = 1, the exact erf form and β = 1.
    "elu": F.elu,
    "gelu": F.gelu,
    "softplus": F.softplus,
    "softmax": lambda z: torch.softmax(z, dim=1),
}

# Per-sample losses lᵢ from the output pre-activation z, activation a and target y.
TORCH_LOSSES = {
    "squared_error": lambda z, a, y: 0.5 * ((a - y) ** 2).sum(dim=1),
    "binary_cross_entropy": lambda z, a, y: F.binary_cross_entropy(
        a, y, reduction="none"
    ).sum(dim=1),
    # Only paired with softmax, so PyTorch's cross-entropy on the logits z.
    "categorical_cross_entropy": lambda z, a, y: F.cross_entropy(
        z, y, reduction="none"
    ),
}

# Output activation and loss pairs: the three that fuse to δ = ŷ − y, and the
# rest of the activations with squared error through their own derivatives.
OUTPUTS = [
    ("identity", "squared_error"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "categorical_cross_entropy"),
    ("sigmoid", "squared_error"),
    ("tanh", "squared_error"),
    ("relu", "squared_error"),
    ("leaky_relu", "squared_error"),
    ("softmax", "squared_error"),
]

CASES = list(itertools.product(HIDDEN_ACTIVATIONS, OUTPUTS))


def case_seed(hidden_activation, output, weighted):
    return CASES.index((hidden_activation, output)) + 100 * weighted


def random_case(seed, hidden_activation, output_activation, loss):
    """Draw an architecture with 1 to 3 hidden layers, a batch and targets."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    hidden = [int(units) for units in rng.integers(1, 9, size=depth)]
    n_features = int(rng.integers(1, 7))
    n_outputs = int(rng.integers(2, 5))
    n_samples = int(rng.integers(1, 17))

    network = Network(
        [n_features, *hidden, n_outputs],
        activation=hidden_activation,
        output_activation=output_activation,
        loss=loss,
        dtype="float64",
        seed=seed,
    )
    X = rng.normal(0.0, 1.5, size=(n_samples, n_features))
    if loss == "categorical_cross_entropy":
        y = np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(n_samples, n_outputs)).astype(np.float64)
    else:
        y = rng.normal(size=(n_samples, n_outputs))
    weights = rng.uniform(0.1, 3.0, size=n_samples)
    return network, X, y, weights


def torch_parameters(network):
    """Return leaf tensors [W₁, b₁, W₂, b₂, …] holding copies of the weights."""
    tensors = []
    for layer in network.layers:
        tensors.append(torch.tensor(layer.weights, requires_grad=True))
        tensors.append(torch.tensor(layer.biases, requires_grad=True))
    return tensors


def torch_activation(activation, z):
    """Apply mlpkit's ``activation`` to ``z`` with PyTorch operations."""
    if activation.name == "maxout":
        # The pieces of each unit are adjacent columns of the Linear output.
        grouped = z.unflatten(1, (-1, activation.pieces))
        return grouped.max(dim=2).values
    return TORCH_ACTIVATIONS[activation.name](z)


def torch_forward(network, parameters, X):
    """Return the output layer's pre-activation z and activation a."""
    a = torch.as_tensor(X, dtype=torch.float64)
    z = a
    for index, layer in enumerate(network.layers):
        W, b = parameters[2 * index], parameters[2 * index + 1]
        z = a @ W + b
        a = torch_activation(layer.activation, z)
    return z, a


def torch_loss(network, parameters, X, y, sample_weight=None):
    z, a = torch_forward(network, parameters, X)
    per_sample = TORCH_LOSSES[network.loss.name](z, a, torch.as_tensor(y))
    if sample_weight is None:
        return per_sample.mean(), a
    weights = torch.as_tensor(sample_weight)
    return (weights * per_sample).sum() / weights.sum(), a


def assert_close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0, err_msg=what)


# Forward propagation, loss and backpropagation


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("hidden_activation, output", CASES)
def test_gradients_match_autograd(hidden_activation, output, weighted):
    seed = case_seed(hidden_activation, output, weighted)
    network, X, y, weights = random_case(seed, hidden_activation, *output)
    sample_weight = weights if weighted else None
    parameters = torch_parameters(network)

    expected_loss, expected_outputs = torch_loss(
        network, parameters, X, y, sample_weight
    )
    expected_loss.backward()
    loss, _ = network.compute_gradients(X, y, sample_weight)

    assert_close(network.forward(X), expected_outputs.detach().numpy(), "outputs")
    assert_close(loss, expected_loss.item(), "loss")
    for index, layer in enumerate(network.layers):
        weight_grad = parameters[2 * index].grad.numpy()
        bias_grad = parameters[2 * index + 1].grad.numpy()
        assert_close(layer.weight_gradient, weight_grad, f"∂L/∂W of layer {index}")
        assert_close(layer.bias_gradient, bias_grad, f"∂L/∂b of layer {index}")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_cases_cover_every_activation_loss_and_depth(weighted):
    depths = set()
    for case in CASES:
        seed = case_seed(*case, weighted)
        network, *_ = random_case(seed, "tanh", "identity", "squared_error")
        depths.add(len(network.layers) - 1)

    assert depths == {1, 2, 3}
    # test_torch_oracle_extra.py checks the other pairs (elu, gelu, softplus
    # and maxout outputs, the other regression losses) and full coverage.
    assert {activation for activation, _ in OUTPUTS} <= set(ACTIVATIONS)
    assert {loss for _, loss in OUTPUTS} <= set(LOSSES)


# Optimizer steps

N_STEPS = 20
BATCH_SIZE = 8

# mlpkit's optimizer and the torch.optim one with the same hyperparameters.
OPTIMIZERS = {
    "sgd": (
        lambda: SGD(learning_rate=0.1),
        lambda params: torch.optim.SGD(params, lr=0.1),
    ),
    "momentum": (
        lambda: SGD(learning_rate=0.05, momentum=0.9),
        lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
    ),
    "nesterov": (
        lambda: SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    ),
    # A large ε, so that where it enters the update shows in the weights.
    "adam": (
        lambda: Adam(learning_rate=0.01, beta1=0.8, beta2=0.95, epsilon=1e-3),
        lambda params: torch.optim.Adam(params, lr=0.01, betas=(0.8, 0.95), eps=1e-3),
    ),
}


def make_training_case(output_activation, loss, seed=7):
    rng = np.random.default_rng(seed)
    network = Network(
        [4, 6, 5, 3],
        activation="tanh",
        output_activation=output_activation,
        loss=loss,
        dtype="float64",
        seed=seed,
    )
    n_samples = N_STEPS * BATCH_SIZE
    X = rng.normal(size=(n_samples, 4))
    if loss == "categorical_cross_entropy":
        y = np.eye(3)[rng.integers(0, 3, n_samples)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(n_samples, 3)).astype(np.float64)
    else:
        y = rng.normal(size=(n_samples, 3))
    return network, X, y


def train_with_torch(network, X, y, make_torch_optimizer, before_step=None):
    """Take one torch.optim step per batch in order and return the weights."""
    parameters = torch_parameters(network)
    optimizer = make_torch_optimizer(parameters)
    for step, start in enumerate(range(0, X.shape[0], BATCH_SIZE), start=1):
        rows = slice(start, start + BATCH_SIZE)
        optimizer.zero_grad()
        loss, _ = torch_loss(network, parameters, X[rows], y[rows])
        loss.backward()
        if before_step is not None:
            before_step(optimizer, step)
        optimizer.step()
    return [tensor.detach().numpy() for tensor in parameters]


def train_with_mlpkit(network, X, y, optimizer):
    """Run one epoch of N_STEPS batches in order and return the weights."""
    run_epoch(network, optimizer, X, y, None, BATCH_SIZE, None)
    assert optimizer.iterations == N_STEPS
    arrays = []
    for layer in network.layers:
        arrays.extend([layer.weights, layer.biases])
    return arrays


@pytest.mark.parametrize("output", OUTPUTS[:3], ids=lambda pair: pair[1])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_torch_optim(name, output):
    make_optimizer, make_torch_optimizer = OPTIMIZERS[name]
    network, X, y = make_training_case(*output)

    expected = train_with_torch(network, X, y, make_torch_optimizer)
    actual = train_with_mlpkit(network, X, y, make_optimizer())

    for index, (array, reference) in enumerate(zip(actual, expected)):
        assert_close(array, reference, f"parameter array {index} after {N_STEPS} steps")


def uncorrected_adam():
    return Adam(
        learning_rate=0.01,
        beta1=0.8,
        beta2=0.95,
        epsilon=1e-3,
        epsilon_placement="uncorrected",
    )


def test_uncorrected_adam_matches_torch_with_rescaled_epsilon():
    network, X, y = make_training_case("softmax", "categorical_cross_entropy")
    _, make_torch_adam = OPTIMIZERS["adam"]

    def rescale_epsilon(optimizer, step):
        # ε added to √v equals ε / √(1 − β₂ᵗ) added to the corrected √v̂.
        optimizer.param_groups[0]["eps"] = 1e-3 / np.sqrt(1.0 - 0.95**step)

    expected = train_with_torch(network, X, y, make_torch_adam, rescale_epsilon)
    actual = train_with_mlpkit(network, X, y, uncorrected_adam())

    for index, (array, reference) in enumerate(zip(actual, expected)):
        assert_close(array, reference, f"parameter array {index} after {N_STEPS} steps")


def test_uncorrected_adam_matches_scikit_learn():
    network, X, y = make_training_case("sigmoid", "binary_cross_entropy")
    reference = Network.from_config(network.get_config(), network.get_arrays())
    views = []
    for layer in reference.layers:
        views.extend([layer.weights, layer.biases])
    # scikit-learn's own Adam (private in 1.9.1), updating the views in place.
    sklearn_adam = AdamOptimizer(views, 0.01, 0.8, 0.95, 1e-3)
    for start in range(0, X.shape[0], BATCH_SIZE):
        rows = slice(start, start + BATCH_SIZE)
        reference.compute_gradients(X[rows], y[rows])
        gradients = []
        for layer in reference.layers:
            gradients.extend([layer.weight_gradient, layer.bias_gradient])
        sklearn_adam.update_params(views, gradients)

    actual = train_with_mlpkit(network, X, y, uncorrected_adam())

    for index, (array, expected) in enumerate(zip(actual, views)):
        assert_close(array, expected, f"parameter array {index} after {N_STEPS} steps")


def test_epsilon_placements_differ_in_this_setup():
    network, X, y = make_training_case("softmax", "categorical_cross_entropy")
    corrected_network = Network.from_config(network.get_config(), network.get_arrays())
    make_adam, _ = OPTIMIZERS["adam"]

    corrected = train_with_mlpkit(corrected_network, X, y, make_adam())
    uncorrected = train_with_mlpkit(network, X, y, uncorrected_adam())

    # Otherwise the two oracle tests above could not tell the rules apart.
    relative_change = np.abs(corrected[0] - uncorrected[0]) / np.abs(corrected[0])
    assert relative_change.max() > 1000 * RTOL
