"""PyTorch as the oracle for the newer optimizers and the learning-rate schedules.

Optimizer cases take 20 steps on the same batches as the ``torch.optim``
optimizer with the same hyperparameters, in float64, through the helpers of
``test_torch_oracle``, and compare the weights to a relative 1e-6. Schedule
cases compare the learning rate of every epoch with
``torch.optim.lr_scheduler``.
"""

import math

import numpy as np
import pytest
import torch
from test_torch_oracle import (
    BATCH_SIZE,
    N_STEPS,
    OUTPUTS,
    assert_close,
    make_training_case,
    train_with_mlpkit,
    train_with_torch,
)

from mlpkit.optimizers import SGD, Adadelta, Adagrad, AdamW, RMSprop
from mlpkit.schedules import (
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    ReduceOnPlateau,
    StepDecay,
)

# mlpkit's optimizer and the torch.optim one with the same hyperparameters.
OPTIMIZERS = {
    # A large ε, so that where it enters the update shows in the weights.
    "rmsprop": (
        lambda: RMSprop(learning_rate=0.01, rho=0.9, epsilon=1e-3),
        lambda params: torch.optim.RMSprop(params, lr=0.01, alpha=0.9, eps=1e-3),
    ),
    "rmsprop_momentum": (
        lambda: RMSprop(learning_rate=0.005, momentum=0.8),
        lambda params: torch.optim.RMSprop(params, lr=0.005, momentum=0.8),
    ),
    "rmsprop_centered": (
        lambda: RMSprop(learning_rate=0.005, rho=0.9, centered=True),
        lambda params: torch.optim.RMSprop(params, lr=0.005, alpha=0.9, centered=True),
    ),
    "rmsprop_centered_momentum": (
        lambda: RMSprop(learning_rate=0.002, momentum=0.7, centered=True),
        lambda params: torch.optim.RMSprop(
            params, lr=0.002, momentum=0.7, centered=True
        ),
    ),
    "adagrad": (
        lambda: Adagrad(learning_rate=0.05),
        lambda params: torch.optim.Adagrad(params, lr=0.05),
    ),
    "adagrad_decay_and_accumulator": (
        lambda: Adagrad(
            learning_rate=0.05,
            epsilon=1e-4,
            initial_accumulator_value=0.3,
            learning_rate_decay=0.1,
        ),
        lambda params: torch.optim.Adagrad(
            params, lr=0.05, eps=1e-4, initial_accumulator_value=0.3, lr_decay=0.1
        ),
    ),
    "adadelta": (
        lambda: Adadelta(),
        lambda params: torch.optim.Adadelta(params),
    ),
    # H2O-3's defaults, with a learning rate that makes the steps visible.
    "adadelta_h2o_defaults": (
        lambda: Adadelta(learning_rate=10.0, rho=0.99, epsilon=1e-8),
        lambda params: torch.optim.Adadelta(params, lr=10.0, rho=0.99, eps=1e-8),
    ),
    "adamw": (
        lambda: AdamW(learning_rate=0.01, beta1=0.8, beta2=0.95, epsilon=1e-3),
        lambda params: torch.optim.AdamW(params, lr=0.01, betas=(0.8, 0.95), eps=1e-3),
    ),
    "adamw_strong_decay": (
        lambda: AdamW(learning_rate=0.01, weight_decay=2.0),
        lambda params: torch.optim.AdamW(params, lr=0.01, weight_decay=2.0),
    ),
}


@pytest.mark.parametrize("output", OUTPUTS[:3], ids=lambda pair: pair[1])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_torch_optim(name, output):
    make_optimizer, make_torch_optimizer = OPTIMIZERS[name]
    network, X, y = make_training_case(*output)
    start = network.parameters.copy()

    expected = train_with_torch(network, X, y, make_torch_optimizer)
    actual = train_with_mlpkit(network, X, y, make_optimizer())

    # Otherwise a case whose steps vanish would pass whatever the rule.
    assert np.abs(network.parameters - start).max() > 1e-3
    for index, (array, reference) in enumerate(zip(actual, expected)):
        assert_close(array, reference, f"parameter array {index} after {N_STEPS} steps")


def test_inverse_scaling_by_steps_matches_torch():
    network, X, y = make_training_case("identity", "squared_error")
    initial_rate, power_t = 0.2, 0.5

    def set_torch_rate(optimizer, step):
        optimizer.param_groups[0]["lr"] = initial_rate / step**power_t

    expected = train_with_torch(
        network,
        X,
        y,
        lambda params: torch.optim.SGD(params, lr=initial_rate, momentum=0.5),
        set_torch_rate,
    )

    optimizer = SGD(learning_rate=initial_rate, momentum=0.5)
    schedule = InverseScaling(power_t=power_t)
    schedule.start(optimizer)
    for start in range(0, X.shape[0], BATCH_SIZE):
        rows = slice(start, start + BATCH_SIZE)
        _, gradients = network.compute_gradients(X[rows], y[rows])
        optimizer.step(network.parameters, gradients)
        schedule.on_step_end(optimizer)

    next_rate = initial_rate / math.sqrt(N_STEPS + 1)
    assert optimizer.learning_rate == pytest.approx(next_rate)
    for index, layer in enumerate(network.layers):
        assert_close(layer.weights, expected[2 * index], f"weights of layer {index}")
        assert_close(layer.biases, expected[2 * index + 1], f"biases of layer {index}")


# Learning-rate schedules

N_EPOCHS = 40
INITIAL_RATE = 0.1
SCHEDULE_RTOL = 1e-10


def torch_rates(make_scheduler, losses=None):
    """Return the learning rate of each of N_EPOCHS epochs under a torch scheduler."""
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=INITIAL_RATE)
    scheduler = make_scheduler(optimizer)
    rates = []
    for epoch in range(N_EPOCHS):
        rates.append(optimizer.param_groups[0]["lr"])
        # Without a step first, torch warns that the scheduler skips a rate.
        optimizer.step()
        if losses is None:
            scheduler.step()
        else:
            scheduler.step(losses[epoch])
    return rates


def mlpkit_rates(schedule, losses=None):
    """Return the learning rate of each of N_EPOCHS epochs under ``schedule``."""
    optimizer = SGD(learning_rate=INITIAL_RATE)
    schedule.start(optimizer)
    rates = []
    for epoch in range(1, N_EPOCHS + 1):
        rates.append(optimizer.learning_rate)
        loss = None if losses is None else losses[epoch - 1]
        schedule.on_epoch_end(optimizer, epoch, loss)
    return rates


SCHEDULES = {
    "step": (
        lambda: StepDecay(step_size=7, gamma=0.5),
        lambda optimizer: torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=7, gamma=0.5
        ),
    ),
    "exponential": (
        lambda: ExponentialDecay(gamma=0.9),
        lambda optimizer: torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9),
    ),
    "cosine_periodic": (
        lambda: CosineAnnealing(decay_epochs=15, min_learning_rate=0.01, periodic=True),
        lambda optimizer: torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=15, eta_min=0.01
        ),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch_scheduler(name):
    make_schedule, make_scheduler = SCHEDULES[name]

    expected = torch_rates(make_scheduler)
    actual = mlpkit_rates(make_schedule())

    np.testing.assert_allclose(actual, expected, rtol=SCHEDULE_RTOL, atol=0)


def test_cosine_holds_minimum_where_torch_climbs_back():
    make_scheduler = SCHEDULES["cosine_periodic"][1]
    expected = torch_rates(make_scheduler)
    actual = mlpkit_rates(CosineAnnealing(decay_epochs=15, min_learning_rate=0.01))

    # Epoch e trains with the rate after e − 1 scheduler steps.
    np.testing.assert_allclose(actual[:16], expected[:16], rtol=SCHEDULE_RTOL, atol=0)
    assert actual[16:] == [0.01] * (N_EPOCHS - 16)
    assert expected[20] > 0.02


def plateau_losses():
    """A loss curve that improves, stalls, creeps down and stalls again.

    Each creeping step lowers the loss by 3e-4, which is more than a relative
    threshold of 3e-4 (about 2e-4 here) and less than an absolute 1e-3.
    """
    losses = [1.0, 0.8, 0.7]
    losses += [0.7 + 0.01 * (i % 3) for i in range(8)]
    losses += [0.69 - 3e-4 * i for i in range(10)]
    losses += [0.5, 0.45]
    losses += [0.46] * (N_EPOCHS - len(losses))
    return losses


PLATEAU_CASES = {
    "relative": dict(factor=0.5, patience=2, threshold=3e-4),
    "absolute": dict(factor=0.5, patience=2, threshold=1e-3, threshold_mode="abs"),
    "cooldown_and_floor": dict(
        factor=0.2, patience=1, cooldown=3, min_learning_rate=0.003
    ),
    "skipped_small_reduction": dict(factor=0.5, patience=2, epsilon=0.02),
    "defaults": dict(),
}


@pytest.mark.parametrize("case", list(PLATEAU_CASES))
def test_reduce_on_plateau_matches_torch(case):
    settings = PLATEAU_CASES[case]
    torch_settings = {
        "factor": settings.get("factor", 0.2),
        "patience": settings.get("patience", 5),
        "threshold": settings.get("threshold", 1e-4),
        "threshold_mode": settings.get("threshold_mode", "rel"),
        "cooldown": settings.get("cooldown", 0),
        "min_lr": settings.get("min_learning_rate", 0.0),
        "eps": settings.get("epsilon", 1e-8),
    }
    losses = plateau_losses()

    expected = torch_rates(
        lambda optimizer: torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", **torch_settings
        ),
        losses,
    )
    actual = mlpkit_rates(ReduceOnPlateau(**settings), losses)

    np.testing.assert_allclose(actual, expected, rtol=SCHEDULE_RTOL, atol=0)
    # The loss curve reduces the rate at least once in every case.
    assert actual[-1] < INITIAL_RATE
