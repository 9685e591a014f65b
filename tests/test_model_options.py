"""MLP settings for optimizers, schedules, losses, weights and regularization."""

import warnings

import numpy as np
import pytest

from mlpkit import MLP
from mlpkit.errors import ParameterError
from mlpkit.modelfile import load_model_file


@pytest.fixture(autouse=True)
def quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def binary_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def small(**settings):
    base = {"hidden_layers": (6,), "max_epochs": 4, "batch_size": 16}
    return MLP(**{**base, **settings})


SETTINGS = [
    {"optimizer": "adamw", "weight_decay": 0.05, "beta1": 0.8, "beta2": 0.99},
    {"optimizer": "rmsprop", "rho": 0.9, "epsilon": 1e-7},
    {"optimizer": "adagrad", "learning_rate": 0.1},
    {"optimizer": "adadelta", "learning_rate": 1.0, "rho": 0.95},
    {"optimizer": "lbfgs"},
    {"learning_rate_schedule": "inverse_scaling", "power_t": 0.25},
    {"learning_rate_schedule": "step", "step_size": 2, "gamma": 0.5},
    {"learning_rate_schedule": "exponential", "gamma": 0.9},
    {"learning_rate_schedule": "cosine", "decay_epochs": 3, "min_learning_rate": 1e-5},
    {"learning_rate_schedule": "reduce_on_plateau", "plateau_patience": 1},
    {"class_weight": "balanced"},
    {"class_weight": {0: 1.0, 1: 3.0}},
    {"activation": "maxout", "maxout_pieces": 3},
    {"l1": 1e-3, "l2": 1e-2},
    {"input_dropout": 0.1, "hidden_dropout": [0.2], "max_norm": 2.0},
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s)))
def test_setting_trains_and_round_trips(settings, tmp_path):
    X, y = binary_data()
    model = small(**settings).fit(X, y)
    path = tmp_path / "model.mlpkit"
    model.save(path)
    loaded = MLP.load(path)

    for name, value in settings.items():
        assert loaded.get_settings()[name] == model.get_settings()[name]
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize(
    "loss, extra",
    [
        ("absolute_error", {}),
        ("huber", {"huber_delta": 0.5}),
        ("poisson", {}),
        ("quantile", {"quantile": 0.9}),
    ],
)
def test_regression_loss_trains_and_round_trips(loss, extra, tmp_path):
    X, _ = binary_data()
    y = np.abs(X[:, 0]) + 0.5
    model = small(loss=loss, **extra).fit(X, y)
    path = tmp_path / "model.mlpkit"
    model.save(path)
    loaded = MLP.load(path)

    assert model.task_ == "regression"
    assert loaded.network_.loss.name == loss
    assert loaded.get_settings() == model.get_settings()
    assert np.allclose(loaded.predict(X), model.predict(X))


def test_quantile_loss_orders_predictions():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 1))
    y = X[:, 0] + rng.normal(size=300)
    settings = {"hidden_layers": (8,), "max_epochs": 40, "learning_rate": 0.01}
    low = MLP(loss="quantile", quantile=0.1, **settings).fit(X, y)
    high = MLP(loss="quantile", quantile=0.9, **settings).fit(X, y)

    assert np.mean(low.predict(X) < high.predict(X)) > 0.9


def test_old_settings_without_new_keys_load(tmp_path):
    X, y = binary_data()
    settings = small().get_settings()
    for key in ("loss", "class_weight", "learning_rate_schedule", "l2", "rho"):
        settings.pop(key)

    assert MLP(**settings).get_settings() == small().get_settings()


def test_lbfgs_reaches_low_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    model = MLP(
        hidden_layers=(16,),
        optimizer="lbfgs",
        max_epochs=300,
        validation_fraction=0.0,
        dtype="float64",
    ).fit(X, y)

    assert model.history_.records[-1].train_loss < 0.02
    assert model.history_.epochs > 10


def test_lbfgs_rejects_checkpoint(tmp_path):
    X, y = binary_data()
    with pytest.raises(ParameterError, match="lbfgs"):
        small(optimizer="lbfgs").fit(X, y, checkpoint=tmp_path / "c.mlpkit")


def rates_during_fit(**settings):
    X, y = binary_data()
    model = small(max_epochs=6, learning_rate=0.01, **settings)
    rates = []
    model.fit(X, y, on_epoch_end=lambda record: rates.append(model.optimizer_.learning_rate))
    return rates


def test_step_schedule_halves_rate_every_two_epochs():
    rates = rates_during_fit(learning_rate_schedule="step", step_size=2, gamma=0.5)

    # Each record sees the rate its epoch trained with: η₀ · 0.5^⌊(e − 1) / 2⌋.
    assert rates == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])


def test_exponential_schedule_multiplies_each_epoch():
    rates = rates_during_fit(learning_rate_schedule="exponential", gamma=0.5)

    # The callback runs before the epoch hook, so it sees the epoch's own rate.
    assert rates[1] == pytest.approx(0.005)
    assert rates[2] == pytest.approx(0.0025)


def test_inverse_scaling_falls_every_step():
    X, y = binary_data(n=64)
    model = small(
        learning_rate_schedule="inverse_scaling", learning_rate=0.1, max_epochs=1
    ).fit(X, y)
    steps = model.optimizer_.iterations

    assert model.optimizer_.learning_rate == pytest.approx(0.1 / (steps + 1) ** 0.5)


def test_plateau_patience_must_be_below_patience():
    with pytest.raises(ParameterError, match="plateau_patience"):
        MLP(learning_rate_schedule="reduce_on_plateau", plateau_patience=10, patience=5)


def test_schedule_checkpoint_resume_is_bit_for_bit(tmp_path):
    X, y = binary_data()
    settings = {"learning_rate_schedule": "step", "step_size": 1, "gamma": 0.7}
    full = small(max_epochs=4, **settings).fit(X, y)

    path = tmp_path / "c.mlpkit"
    small(max_epochs=2, **settings).fit(X, y, checkpoint=path)
    metadata, _ = load_model_file(path)
    resumed = small(max_epochs=4, **settings).fit(X, y, resume=path)

    assert metadata["checkpoint"]["schedule"]["config"]["name"] == "step"
    assert np.array_equal(resumed.network_.parameters, full.network_.parameters)
    assert resumed.optimizer_.learning_rate == full.optimizer_.learning_rate


def test_balanced_class_weight_raises_minority_recall():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 1.3).astype(int)
    settings = {"hidden_layers": (4,), "max_epochs": 15, "validation_fraction": 0.0}
    plain = MLP(**settings).fit(X, y)
    balanced = MLP(class_weight="balanced", **settings).fit(X, y)
    minority = y == 1

    assert minority.mean() < 0.15
    assert balanced.predict(X)[minority].mean() > plain.predict(X)[minority].mean()


def test_class_weight_multiplies_sample_weight():
    X, y = binary_data()
    weights = np.ones(len(y))
    a = small(class_weight={0: 2.0, 1: 1.0}, validation_fraction=0.0).fit(X, y)
    b = small(validation_fraction=0.0).fit(X, y, sample_weight=np.where(y == 0, 2.0, weights))

    assert np.array_equal(a.network_.parameters, b.network_.parameters)


def test_class_weight_rejected_for_regression():
    X, _ = binary_data()
    with pytest.raises(ParameterError, match="class_weight"):
        small(class_weight="balanced").fit(X, X[:, 0] * 1.5)


def test_multilabel_fit_predict_round_trip(tmp_path):
    X, _ = binary_data(n=200)
    Y = (X > 0).astype(int)
    model = MLP(
        hidden_layers=(16,), max_epochs=60, task="multilabel", learning_rate=0.01
    ).fit(X, Y)
    path = tmp_path / "model.mlpkit"
    model.save(path)
    loaded = MLP.load(path)

    assert model.task_ == "multilabel"
    assert model.evaluate(X, Y)["accuracy"] > 0.7
    assert loaded.predict(X).shape == Y.shape
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_multilabel_accepts_label_lists():
    X, _ = binary_data(n=60)
    labels = [[name for name, on in zip("ab", row) if on] for row in X[:, :2] > 0]
    model = small(task="multilabel").fit(X, labels)

    assert list(model.classes_) == ["a", "b"]


def test_regularization_reaches_network():
    X, y = binary_data()
    model = small(l1=0.01, l2=0.02, hidden_dropout=0.3, max_norm=1.5).fit(X, y)

    assert model.network_.l1 == 0.01
    assert model.network_.l2 == 0.02
    assert model.network_.max_norm == 1.5


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"optimizer": "nadam"}, "optimizer"),
        ({"learning_rate_schedule": "linear"}, "learning_rate_schedule"),
        ({"loss": "hinge"}, "loss"),
        ({"huber_delta": 0.0}, "huber_delta"),
        ({"quantile": 1.0}, "quantile"),
        ({"class_weight": "auto"}, "class_weight"),
        ({"l2": -1.0}, "l2"),
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"hidden_dropout": [0.1, 0.2]}, "hidden_dropout"),
        ({"max_norm": 0.0}, "max_norm"),
        ({"task": "ranking"}, "task"),
        ({"optimizer": "lbfgs", "learning_rate_schedule": "step"}, "schedule"),
        ({"optimizer": "lbfgs", "hidden_dropout": 0.2}, "dropout"),
        ({"loss": "huber", "task": "classification"}, "regression loss"),
    ],
)
def test_invalid_setting_is_named(settings, name):
    with pytest.raises(ParameterError, match=name):
        MLP(hidden_layers=(4,), **settings)
