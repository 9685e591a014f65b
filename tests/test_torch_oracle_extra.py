"""PyTorch as the oracle for ELU, GELU, softplus, maxout and the regression losses.

The method is that of ``test_torch_oracle``, whose helpers these tests use: the
same network as an mlpkit ``Network`` and as PyTorch tensors with the same
weights, in float64, compared to a relative 1e-6. Its cases cover these
activations in hidden layers under squared error and the cross-entropies.
These cases add them as outputs, the absolute error, Huber, Poisson and
quantile losses with their parameters, maxout with more than two pieces, and
multilabel targets.
"""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_torch_oracle import (
    OUTPUTS,
    TORCH_ACTIVATIONS,
    TORCH_LOSSES,
    assert_close,
    torch_forward,
    torch_parameters,
)

from mlpkit.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, get_activation
from mlpkit.losses import LOSSES, get_loss
from mlpkit.network import Network
from mlpkit.tasks import TargetEncoder


def torch_quantile_loss(loss, a, y):
    # PyTorch has no pinball loss: max(τ (y − ŷ), (τ − 1)(y − ŷ)) per output.
    residual = y - a
    tau = loss.quantile
    return torch.maximum(tau * residual, (tau - 1.0) * residual).sum(dim=1)


# Per-sample losses lᵢ from the mlpkit loss (for its parameters), the output
# activation a and the target y.
EXTRA_TORCH_LOSSES = {
    "absolute_error": lambda loss, a, y: F.l1_loss(a, y, reduction="none").sum(dim=1),
    "huber": lambda loss, a, y: F.huber_loss(
        a, y, reduction="none", delta=loss.delta
    ).sum(dim=1),
    # The network's output is the log-rate, PyTorch's log_input=True.
    "poisson": lambda loss, a, y: F.poisson_nll_loss(
        a, y, log_input=True, full=False, reduction="none"
    ).sum(dim=1),
    "quantile": torch_quantile_loss,
}

# Output activation, loss and loss parameters.
EXTRA_OUTPUTS = [
    ("elu", "squared_error", {}),
    ("gelu", "squared_error", {}),
    ("softplus", "squared_error", {}),
    ("maxout", "squared_error", {}),
    ("identity", "absolute_error", {}),
    ("identity", "huber", {}),
    ("identity", "huber", {"delta": 0.3}),
    ("identity", "poisson", {}),
    ("identity", "quantile", {}),
    ("identity", "quantile", {"quantile": 0.1}),
    ("identity", "quantile", {"quantile": 0.9}),
]

CASES = list(itertools.product(HIDDEN_ACTIVATIONS, range(len(EXTRA_OUTPUTS))))


def torch_objective(network, parameters, X, y, sample_weight=None):
    """Return PyTorch's ``L`` of the network and its outputs ``a``."""
    z, a = torch_forward(network, parameters, X)
    y = torch.as_tensor(y)
    if network.loss.name in TORCH_LOSSES:
        per_sample = TORCH_LOSSES[network.loss.name](z, a, y)
    else:
        per_sample = EXTRA_TORCH_LOSSES[network.loss.name](network.loss, a, y)
    if sample_weight is None:
        return per_sample.mean(), a
    weights = torch.as_tensor(sample_weight)
    return (weights * per_sample).sum() / weights.sum(), a


def random_targets(loss, n_samples, n_outputs, rng):
    if loss == "categorical_cross_entropy":
        return np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n_samples, n_outputs)).astype(np.float64)
    if loss == "poisson":
        return rng.poisson(2.0, size=(n_samples, n_outputs)).astype(np.float64)
    return rng.normal(size=(n_samples, n_outputs))


def random_case(seed, hidden_activation, output, pieces=2):
    """Draw an architecture with 1 to 3 hidden layers, a batch and targets."""
    output_activation, loss, loss_params = output
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
        loss_params=loss_params,
        maxout_pieces=pieces,
    )
    X = rng.normal(0.0, 1.5, size=(n_samples, n_features))
    y = random_targets(loss, n_samples, n_outputs, rng)
    weights = rng.uniform(0.1, 3.0, size=n_samples)
    return network, X, y, weights


def assert_matches_autograd(network, X, y, sample_weight):
    parameters = torch_parameters(network)
    expected_loss, expected_outputs = torch_objective(
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


def case_id(case):
    hidden_activation, index = case
    output_activation, loss, loss_params = EXTRA_OUTPUTS[index]
    parameters = "".join(f"-{key}={value}" for key, value in loss_params.items())
    return f"{hidden_activation}-{output_activation}-{loss}{parameters}"


# Forward propagation, loss and backpropagation of whole networks


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", CASES, ids=[case_id(case) for case in CASES])
def test_gradients_match_autograd(case, weighted):
    hidden_activation, index = case
    seed = CASES.index(case) + 1000 * weighted
    network, X, y, weights = random_case(
        seed, hidden_activation, EXTRA_OUTPUTS[index]
    )

    assert_matches_autograd(network, X, y, weights if weighted else None)


MAXOUT_OUTPUTS = [
    ("identity", "squared_error", {}),
    ("maxout", "absolute_error", {}),
    ("sigmoid", "binary_cross_entropy", {}),
    ("softmax", "categorical_cross_entropy", {}),
]


@pytest.mark.parametrize("output", MAXOUT_OUTPUTS, ids=lambda output: output[1])
@pytest.mark.parametrize("pieces", [3, 4])
def test_maxout_pieces_match_autograd(pieces, output):
    seed = 50 + 10 * pieces + MAXOUT_OUTPUTS.index(output)
    network, X, y, weights = random_case(seed, "maxout", output, pieces=pieces)

    assert network.layers[0].weights.shape[1] == pieces * network.layer_sizes[1]
    assert_matches_autograd(network, X, y, weights)


def test_multilabel_matches_bce_with_logits():
    rng = np.random.default_rng(3)
    label_lists = [
        list(rng.choice(["cat", "dog", "owl", "yak"], size=rng.integers(0, 4)))
        for _ in range(12)
    ]
    encoder = TargetEncoder("multilabel").fit(label_lists)
    y = encoder.transform(label_lists, dtype=np.float64)
    spec = encoder.spec
    network = Network(
        [5, 6, encoder.n_outputs],
        activation="softplus",
        output_activation=spec.output_activation,
        loss=spec.loss,
        dtype="float64",
        seed=3,
    )
    X = rng.normal(size=(12, 5))

    parameters = torch_parameters(network)
    z, _ = torch_forward(network, parameters, X)
    # One sigmoid per label, with the loss on the logits: summed over labels,
    # averaged over samples.
    expected = F.binary_cross_entropy_with_logits(
        z, torch.as_tensor(y), reduction="sum"
    ) / len(label_lists)
    expected.backward()
    loss, _ = network.compute_gradients(X, y)

    assert encoder.n_outputs == 4
    assert_close(loss, expected.item(), "loss")
    for index, layer in enumerate(network.layers):
        weight_grad = parameters[2 * index].grad.numpy()
        assert_close(layer.weight_gradient, weight_grad, f"∂L/∂W of layer {index}")


# Activations and losses on their own


TORCH_MODULE_ACTIVATIONS = {
    "elu": torch.nn.ELU(),
    "gelu": torch.nn.GELU(),
    "softplus": torch.nn.Softplus(),
}


@pytest.mark.parametrize("name", list(TORCH_MODULE_ACTIVATIONS))
def test_activation_and_slope_match_torch_module(name):
    activation = get_activation(name)
    # PyTorch 2.13's float64 GELU on CPU drifts from z Φ(z) in the lower tail
    # (relative 2e-6 at z = −7, and 0 at z = −9), so the grid stops at −5.
    z = np.concatenate([np.linspace(-5.0, 5.0, 201), [-4.99, 0.0, 17.5, 25.0]])
    tensor = torch.tensor(z, requires_grad=True)

    expected = TORCH_MODULE_ACTIVATIONS[name](tensor)
    expected.sum().backward()
    a = activation.forward(z)

    assert_close(a, expected.detach().numpy(), f"{name}(z)")
    assert_close(activation.derivative(z, a), tensor.grad.numpy(), f"{name}′(z)")


def test_maxout_matches_torch_reshaped_max():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(7, 12))
    grad_a = rng.normal(size=(7, 4))
    maxout = get_activation("maxout", maxout_pieces=3)
    tensor = torch.tensor(z, requires_grad=True)

    expected = tensor.unflatten(1, (4, 3)).max(dim=2).values
    (expected * torch.as_tensor(grad_a)).sum().backward()
    a = maxout.forward(z)

    assert_close(a, expected.detach().numpy(), "maxout(z)")
    assert_close(maxout.backward(grad_a, z, a), tensor.grad.numpy(), "δ")


# The PyTorch module with reduction="sum", divided by the number of samples,
# is mlpkit's per-sample sum over outputs averaged over samples.
TORCH_MODULE_LOSSES = [
    ("absolute_error", {}, lambda: torch.nn.L1Loss(reduction="sum")),
    ("huber", {}, lambda: torch.nn.HuberLoss(reduction="sum")),
    ("huber", {"delta": 2.5}, lambda: torch.nn.HuberLoss(reduction="sum", delta=2.5)),
    (
        "poisson",
        {},
        lambda: torch.nn.PoissonNLLLoss(log_input=True, full=False, reduction="sum"),
    ),
]


@pytest.mark.parametrize(
    "name, params, make_module",
    TORCH_MODULE_LOSSES,
    ids=[f"{name}{params}" for name, params, _ in TORCH_MODULE_LOSSES],
)
def test_loss_and_gradient_match_torch_module(name, params, make_module):
    rng = np.random.default_rng(5)
    y_true = rng.poisson(3.0, size=(9, 3)).astype(np.float64)
    y_pred = rng.normal(1.0, 2.0, size=(9, 3))
    loss = get_loss(name, **params)
    tensor = torch.tensor(y_pred, requires_grad=True)

    expected = make_module()(tensor, torch.as_tensor(y_true)) / y_true.shape[0]
    expected.backward()

    assert_close(loss.value(y_true, y_pred), expected.item(), "loss")
    # ∂L/∂ŷ = ∂l/∂ŷ / n without sample weights.
    gradient = loss.gradient(y_true, y_pred) / y_true.shape[0]
    assert_close(gradient, tensor.grad.numpy(), "∂L/∂ŷ")


def test_cases_cover_every_activation_and_loss():
    outputs = {activation for activation, _ in OUTPUTS}
    outputs |= {activation for activation, _, _ in EXTRA_OUTPUTS}
    losses = {loss for _, loss in OUTPUTS}
    losses |= {loss for _, loss, _ in EXTRA_OUTPUTS}

    assert outputs == set(ACTIVATIONS)
    assert losses == set(LOSSES)
    assert set(HIDDEN_ACTIVATIONS) <= set(TORCH_ACTIVATIONS) | {"maxout"}
