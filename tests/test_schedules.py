"""Contracts of the learning-rate schedules, and scikit-learn's inverse scaling.

The comparison with ``torch.optim.lr_scheduler`` lives in
``test_torch_oracle_optimizers.py``.
"""

import json
import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.neural_network import MLPRegressor

from mlpkit.errors import ParameterError
from mlpkit.network import Network
from mlpkit.optimizers import SGD
from mlpkit.schedules import (
    SCHEDULES,
    Constant,
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    LearningRateSchedule,
    ReduceOnPlateau,
    StepDecay,
    make_epoch_callback,
    make_schedule,
)
from mlpkit.training import EpochRecord, run_epoch


def epoch_rates(schedule, n_epochs, losses=None, initial_rate=1.0):
    """Return the learning rate that each of ``n_epochs`` epochs trains with."""
    optimizer = SGD(learning_rate=initial_rate)
    schedule.start(optimizer)
    rates = []
    for epoch in range(1, n_epochs + 1):
        rates.append(optimizer.learning_rate)
        loss = None if losses is None else losses[epoch - 1]
        schedule.on_epoch_end(optimizer, epoch, loss, samples_seen=10 * epoch)
    return rates


# Rates worked out by hand, for η₀ = 1


def test_constant_keeps_initial_rate():
    assert epoch_rates(Constant(), 4, initial_rate=0.3) == [0.3] * 4


def test_step_decay_drops_every_step_size_epochs():
    rates = epoch_rates(StepDecay(step_size=2, gamma=0.5), 6)

    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_exponential_decay_multiplies_every_epoch():
    rates = epoch_rates(ExponentialDecay(gamma=0.5), 4)

    assert rates == [1.0, 0.5, 0.25, 0.125]


def test_cosine_reaches_minimum_and_holds_it():
    rates = epoch_rates(CosineAnnealing(decay_epochs=4, min_learning_rate=0.2), 7)

    # η = 0.2 + 0.8 (1 + cos(π e / 4)) / 2 after e epochs.
    halfway = 0.2 + 0.4 * (1.0 + math.cos(math.pi / 4))
    np.testing.assert_allclose(rates[:5], [1.0, halfway, 0.6, 1.2 - halfway, 0.2])
    assert rates[5:] == [0.2, 0.2]


def test_inverse_scaling_by_samples():
    rates = epoch_rates(InverseScaling(power_t=0.5, time_step="samples"), 3)

    # epoch_rates passes samples_seen = 10 e after epoch e, so t = 11, 21.
    np.testing.assert_allclose(rates, [1.0, 1 / math.sqrt(11), 1 / math.sqrt(21)])


def test_inverse_scaling_by_steps():
    optimizer = SGD(learning_rate=2.0)
    schedule = InverseScaling(power_t=1.0)
    schedule.start(optimizer)
    rates = []
    parameters = np.zeros(1)
    for _ in range(4):
        rates.append(optimizer.learning_rate)
        optimizer.step(parameters, np.ones(1))
        schedule.on_step_end(optimizer)
    schedule.on_epoch_end(optimizer, 1)

    assert schedule.per_step
    np.testing.assert_allclose(rates, [2.0, 1.0, 2.0 / 3.0, 0.5])
    # The end of an epoch does not change a rate set per step.
    assert optimizer.learning_rate == pytest.approx(0.4)


def test_reduce_on_plateau_waits_for_patience():
    losses = [1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.4, 0.5, 0.5, 0.5]
    schedule = ReduceOnPlateau(factor=0.5, patience=2)
    rates = epoch_rates(schedule, len(losses), losses)

    # Epochs 3 to 5 do not improve on 0.5, so epoch 6 trains at half the rate.
    assert rates == [1.0] * 5 + [0.5] * 5
    assert schedule.best == 0.4
    # Epochs 8 to 10 do not improve on 0.4, which halves the rate again.
    assert schedule.learning_rate == 0.25
    assert schedule.bad_epochs == 0


def test_reduce_on_plateau_nan_is_bad():
    schedule = ReduceOnPlateau(factor=0.5, patience=0)
    rates = epoch_rates(schedule, 3, [1.0, float("nan"), 0.5])

    assert rates == [1.0, 1.0, 0.5]


# Hooks, state and config


SETTINGS = {
    "constant": {},
    "inverse_scaling": {"power_t": 0.25, "time_step": "samples"},
    "step": {"step_size": 3, "gamma": 0.3},
    "exponential": {"gamma": 0.8},
    "cosine": {"decay_epochs": 5, "min_learning_rate": 0.01, "periodic": True},
    "reduce_on_plateau": {"factor": 0.5, "patience": 1, "cooldown": 1},
}

LOSSES = [1.0, 0.9, 0.9, 0.95, 0.8, 0.85, 0.85, 0.85, 0.7, 0.75, 0.75, 0.75]


def test_settings_cover_every_schedule():
    assert set(SETTINGS) == set(SCHEDULES)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_config_round_trip_through_json(name):
    schedule = make_schedule(name, **SETTINGS[name])
    config = json.loads(json.dumps(schedule.get_config()))
    rebuilt = LearningRateSchedule.from_config(config)

    assert type(rebuilt) is type(schedule)
    assert rebuilt.get_config() == schedule.get_config()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_state_resumes_exact_rates(name):
    uninterrupted = epoch_rates(make_schedule(name, **SETTINGS[name]), 12, LOSSES, 0.5)

    first = make_schedule(name, **SETTINGS[name])
    optimizer = SGD(learning_rate=0.5)
    first.start(optimizer)
    for epoch in range(1, 6):
        first.on_epoch_end(optimizer, epoch, LOSSES[epoch - 1], samples_seen=10 * epoch)
    state = json.loads(json.dumps(first.get_state()))

    second = make_schedule(name, **SETTINGS[name])
    second.set_state(state)
    # A rebuilt optimizer starts at η₀ again, and start sets the saved rate.
    resumed_optimizer = SGD(learning_rate=0.5)
    second.start(resumed_optimizer)
    resumed = []
    for epoch in range(6, 13):
        resumed.append(resumed_optimizer.learning_rate)
        second.on_epoch_end(
            resumed_optimizer, epoch, LOSSES[epoch - 1], samples_seen=10 * epoch
        )

    assert resumed == uninterrupted[5:]
    if name != "constant":
        assert len(set(uninterrupted[5:])) > 1


@pytest.mark.parametrize("name", list(SETTINGS))
def test_epoch_end_before_start_rejected(name):
    schedule = make_schedule(name, **SETTINGS[name])

    with pytest.raises(RuntimeError, match="start"):
        schedule.on_epoch_end(SGD(), 1, 1.0, samples_seen=10)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_repr_names_class_and_settings(name):
    schedule = make_schedule(name, **SETTINGS[name])

    assert repr(schedule).startswith(type(schedule).__name__ + "(")
    for key in SETTINGS[name]:
        assert f"{key}=" in repr(schedule)


def test_start_keeps_saved_initial_rate():
    schedule = ExponentialDecay(gamma=0.5)
    optimizer = SGD(learning_rate=0.8)
    schedule.start(optimizer)
    schedule.on_epoch_end(optimizer, 1)
    schedule.start(optimizer)

    assert schedule.initial_learning_rate == 0.8
    assert optimizer.learning_rate == 0.4


def test_reduce_on_plateau_needs_loss():
    schedule = ReduceOnPlateau()
    optimizer = SGD()
    schedule.start(optimizer)

    with pytest.raises(ValueError, match="loss"):
        schedule.on_epoch_end(optimizer, 1)


def test_inverse_scaling_needs_samples_seen():
    schedule = InverseScaling(time_step="samples")
    optimizer = SGD()
    schedule.start(optimizer)

    with pytest.raises(ValueError, match="samples_seen"):
        schedule.on_epoch_end(optimizer, 1, 0.5)


def test_epoch_number_must_count_from_one():
    schedule = StepDecay()
    optimizer = SGD()
    schedule.start(optimizer)

    with pytest.raises(ParameterError, match="epoch"):
        schedule.on_epoch_end(optimizer, 0)


INVALID_SETTINGS = [
    ("step", {"step_size": 0}, "step_size"),
    ("step", {"step_size": 2.5}, "step_size"),
    ("step", {"gamma": 0.0}, "gamma"),
    ("exponential", {"gamma": 1.5}, "gamma"),
    ("cosine", {"decay_epochs": 0}, "decay_epochs"),
    ("cosine", {"min_learning_rate": -1.0}, "min_learning_rate"),
    ("inverse_scaling", {"power_t": -0.5}, "power_t"),
    ("inverse_scaling", {"time_step": "epochs"}, "time_step"),
    ("reduce_on_plateau", {"factor": 1.0}, "factor"),
    ("reduce_on_plateau", {"patience": -1}, "patience"),
    ("reduce_on_plateau", {"threshold_mode": "relative"}, "threshold_mode"),
    ("reduce_on_plateau", {"cooldown": True}, "cooldown"),
]


@pytest.mark.parametrize("name, settings, parameter", INVALID_SETTINGS)
def test_invalid_setting_rejected(name, settings, parameter):
    with pytest.raises(ParameterError, match=parameter):
        make_schedule(name, **settings)


def test_unknown_schedule_lists_every_name():
    with pytest.raises(ParameterError) as error:
        make_schedule("warmup")

    for name in SCHEDULES:
        assert name in str(error.value)


# The training-loop callback


def test_epoch_callback_prefers_validation_loss():
    schedule = ReduceOnPlateau(factor=0.5, patience=0)
    optimizer = SGD(learning_rate=1.0)
    schedule.start(optimizer)
    seen = []
    callback = make_epoch_callback(schedule, optimizer, then=seen.append)

    first = EpochRecord(1, train_loss=1.0, validation_loss=2.0)
    second = EpochRecord(2, train_loss=0.5, validation_loss=3.0)
    callback(first)
    callback(second)

    # The training loss fell but the validation loss rose, so the rate halved.
    assert optimizer.learning_rate == 0.5
    assert seen == [first, second]


def test_epoch_callback_falls_back_to_training_loss():
    schedule = ReduceOnPlateau(factor=0.5, patience=0)
    optimizer = SGD(learning_rate=1.0)
    schedule.start(optimizer)
    callback = make_epoch_callback(schedule, optimizer)

    callback(EpochRecord(1, train_loss=1.0, validation_loss=None))
    callback(EpochRecord(2, train_loss=0.5, validation_loss=None))

    assert optimizer.learning_rate == 1.0
    assert schedule.best == 0.5


def test_epoch_callback_rejects_inverse_scaling():
    with pytest.raises(ParameterError, match="inverse scaling"):
        make_epoch_callback(InverseScaling(), SGD())


# scikit-learn's invscaling as the oracle


def test_inverse_scaling_matches_scikit_learn():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3))
    y = np.tanh(X[:, 0] - X[:, 1]) + 0.1 * rng.normal(size=40)
    network = Network([3, 4, 1], activation="tanh", dtype="float64", seed=4)
    n_epochs, batch_size = 6, 16

    reference = MLPRegressor(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="sgd",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate="invscaling",
        learning_rate_init=0.5,
        power_t=0.5,
        momentum=0.0,
        shuffle=False,
        n_iter_no_change=n_epochs + 1,
        max_iter=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        reference.fit(X, y)
        # Start from mlpkit's weights and from sample count 0 again.
        reference.coefs_ = [layer.weights.copy() for layer in network.layers]
        reference.intercepts_ = [layer.biases.copy() for layer in network.layers]
        reference.t_ = 0
        reference.set_params(warm_start=True, max_iter=n_epochs)
        reference.fit(X, y)

    optimizer = SGD(learning_rate=0.5)
    schedule = InverseScaling(power_t=0.5, time_step="samples")
    schedule.start(optimizer)
    for epoch in range(1, n_epochs + 1):
        run_epoch(network, optimizer, X, y[:, None], None, batch_size, None)
        schedule.on_epoch_end(optimizer, epoch, samples_seen=epoch * X.shape[0])

    assert optimizer.learning_rate == pytest.approx(reference._optimizer.learning_rate)
    for index, layer in enumerate(network.layers):
        np.testing.assert_allclose(layer.weights, reference.coefs_[index], rtol=1e-9)
        np.testing.assert_allclose(
            layer.biases, reference.intercepts_[index], rtol=1e-9
        )
