"""The engine's options in the scikit-learn estimators.

The optimizers beyond adam and sgd are checked against ``torch.optim`` from the
estimator's own initial weights, the epoch schedules against their formulas,
and the regularization options by their effect on the fitted weights.
"""

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_torch_oracle import assert_close, torch_loss

from mlpkit.errors import ParameterError
from mlpkit.network import Network
from mlpkit.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::mlpkit.errors.ConvergenceWarning")

NEW_SOLVERS = ["adamw", "rmsprop", "adagrad", "adadelta"]
#: A learning rate at which each new solver trains in a few dozen epochs.
SOLVER_RATES = {"adamw": 0.01, "rmsprop": 0.01, "adagrad": 0.1, "adadelta": 1.0}
#: The documented default of every parameter the engine adds.
NEW_DEFAULTS = {
    "weight_decay": 0.01,
    "rho": None,
    "step_size": 10,
    "gamma": None,
    "decay_epochs": None,
    "min_learning_rate": 0.0,
    "l1": 0.0,
    "input_dropout": 0.0,
    "hidden_dropout": 0.0,
    "max_norm": None,
    "maxout_pieces": 2,
}
#: Settings that run exactly max_iter epochs, one batch order every epoch.
FIXED_EPOCHS = {"tol": 0.0, "n_iter_no_change": 1000, "shuffle": False}


def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def regression_data(n_samples=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    y = np.column_stack([X[:, 0] - X[:, 1], np.tanh(X[:, 2])])
    return X, y


@pytest.fixture
def initial_weights(monkeypatch):
    """Record the parameters of every Network right after initialization."""
    recorded = []
    initialize = Network.initialize

    def record(network, seed):
        initialize(network, seed)
        recorded.append(network.parameters.copy())

    monkeypatch.setattr(Network, "initialize", record)
    return recorded


# scikit-learn's checks with engine options


def expected_failed_checks(estimator):
    if estimator.input_dropout or estimator.hidden_dropout:
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "dropout draws one mask per row, so a repeated row gets two "
                "masks where a row of weight 2 gets one"
            )
        }
    return {}


@parametrize_with_checks(
    [
        MLPClassifier(
            solver="rmsprop",
            learning_rate="cosine",
            hidden_dropout=0.1,
            random_state=0,
        ),
        MLPRegressor(
            solver="adamw",
            learning_rate="step",
            step_size=50,
            l1=1e-4,
            max_norm=3.0,
            random_state=0,
        ),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_checks_with_engine_options(estimator, check):
    check(estimator)


# Solvers


@pytest.mark.parametrize("solver", NEW_SOLVERS)
def test_new_solver_learns_iris(solver):
    X, y = iris()
    settings = {"learning_rate_init": SOLVER_RATES[solver], "batch_size": 32}
    if solver == "adadelta":
        settings["epsilon"] = 1e-6
    model = MLPClassifier((16,), solver=solver, max_iter=60, random_state=0, **settings)

    model.fit(X, y)

    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.score(X, y) > 0.9
    assert model.optimizer_.name == solver


# Each estimator setting and the torch.optim optimizer that takes the same
# steps. momentum stays at its default 0.9, which only sgd uses, so torch's
# RMSprop runs without momentum.
TORCH_CASES = {
    "adamw": (
        {
            "learning_rate_init": 0.01,
            "beta_1": 0.8,
            "beta_2": 0.95,
            "epsilon": 1e-3,
            "weight_decay": 0.5,
        },
        lambda params: torch.optim.AdamW(
            params, lr=0.01, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.5
        ),
    ),
    "rmsprop": (
        {"learning_rate_init": 0.01, "rho": 0.9, "epsilon": 1e-3},
        lambda params: torch.optim.RMSprop(params, lr=0.01, alpha=0.9, eps=1e-3),
    ),
    "rmsprop_default_rho": (
        {"learning_rate_init": 0.01},
        lambda params: torch.optim.RMSprop(params, lr=0.01, alpha=0.99, eps=1e-8),
    ),
    "adagrad": (
        {"learning_rate_init": 0.1, "epsilon": 1e-4},
        lambda params: torch.optim.Adagrad(params, lr=0.1, eps=1e-4),
    ),
    "adadelta": (
        {"learning_rate_init": 1.0, "rho": 0.95, "epsilon": 1e-6},
        lambda params: torch.optim.Adadelta(params, lr=1.0, rho=0.95, eps=1e-6),
    ),
    "adadelta_default_rho": (
        {"learning_rate_init": 2.0},
        lambda params: torch.optim.Adadelta(params, lr=2.0, rho=0.9, eps=1e-8),
    ),
}


def torch_parameters_from(network, flat):
    """Return leaf tensors [W₁, b₁, …] of ``network``'s shapes, read from ``flat``.

    ``flat`` is laid out like ``Network.parameters``: each layer's weights row
    by row, then its biases.
    """
    tensors = []
    offset = 0
    for layer in network.layers:
        for array in (layer.weights, layer.biases):
            values = flat[offset : offset + array.size].reshape(array.shape)
            tensors.append(torch.tensor(values, requires_grad=True))
            offset += array.size
    return tensors


@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_new_solver_steps_match_torch_optim(case, initial_weights):
    settings, make_torch_optimizer = TORCH_CASES[case]
    solver = case.split("_")[0]
    X, y = regression_data()
    batch_size, epochs = 10, 3
    model = MLPRegressor(
        (6,),
        activation="tanh",
        solver=solver,
        batch_size=batch_size,
        max_iter=epochs,
        alpha=0.0,
        random_state=0,
        **FIXED_EPOCHS,
        **settings,
    )

    model.fit(X, y)

    parameters = torch_parameters_from(model.network_, initial_weights[0])
    optimizer = make_torch_optimizer(parameters)
    for _ in range(epochs):
        for start in range(0, X.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            optimizer.zero_grad()
            loss, _ = torch_loss(model.network_, parameters, X[rows], y[rows])
            loss.backward()
            optimizer.step()
    expected = [tensor.detach().numpy().ravel() for tensor in parameters]

    # Otherwise a solver whose steps vanish would pass whatever its rule.
    assert np.abs(model.network_.parameters - initial_weights[0]).max() > 1e-3
    assert model.optimizer_.iterations == epochs * X.shape[0] // batch_size
    assert_close(
        model.network_.parameters,
        np.concatenate(expected),
        f"weights after {epochs} epochs",
    )


def test_rmsprop_ignores_momentum():
    X, y = regression_data()
    settings = {"solver": "rmsprop", "max_iter": 3, "random_state": 0}
    default = MLPRegressor((4,), **settings).fit(X, y)
    other = MLPRegressor((4,), momentum=0.1, **settings).fit(X, y)

    assert default.optimizer_.momentum == 0.0
    np.testing.assert_array_equal(
        default.network_.parameters, other.network_.parameters
    )


def test_weight_decay_shrinks_adamw_weights():
    X, y = regression_data()
    settings = {"solver": "adamw", "learning_rate_init": 0.05, "max_iter": 40}
    light = MLPRegressor((8,), weight_decay=0.0, random_state=0, **settings).fit(X, y)
    heavy = MLPRegressor((8,), weight_decay=5.0, random_state=0, **settings).fit(X, y)

    assert heavy.optimizer_.weight_decay == 5.0
    assert np.linalg.norm(heavy.coefs_[0]) < np.linalg.norm(light.coefs_[0])


# Learning-rate schedules

INITIAL_RATE = 0.01


def cosine_rate(epoch, decay_epochs, minimum):
    span = INITIAL_RATE - minimum
    return minimum + span * (1.0 + math.cos(math.pi * epoch / decay_epochs)) / 2.0


# Each schedule's settings, the epochs to fit, and the rate expected after them.
SCHEDULE_CASES = {
    "step": (
        {"learning_rate": "step", "step_size": 3, "gamma": 0.5},
        7,
        INITIAL_RATE * 0.5**2,
    ),
    "step_default_gamma": (
        {"learning_rate": "step", "step_size": 2},
        5,
        INITIAL_RATE * 0.1**2,
    ),
    "exponential": (
        {"learning_rate": "exponential", "gamma": 0.8},
        5,
        INITIAL_RATE * 0.8**5,
    ),
    "exponential_default_gamma": (
        {"learning_rate": "exponential"},
        4,
        INITIAL_RATE * 0.99**4,
    ),
    "cosine": (
        {"learning_rate": "cosine", "decay_epochs": 10, "min_learning_rate": 0.001},
        4,
        cosine_rate(4, 10, 0.001),
    ),
    "cosine_past_decay_epochs": (
        {"learning_rate": "cosine", "decay_epochs": 3, "min_learning_rate": 0.002},
        5,
        0.002,
    ),
    # decay_epochs=None anneals over max_iter, which fit reaches.
    "cosine_over_max_iter": (
        {"learning_rate": "cosine", "min_learning_rate": 0.003},
        6,
        0.003,
    ),
}


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop", "adadelta"])
@pytest.mark.parametrize("case", list(SCHEDULE_CASES))
def test_epoch_schedule_sets_rate_by_formula(case, solver):
    settings, epochs, expected = SCHEDULE_CASES[case]
    X, y = regression_data()
    model = MLPRegressor(
        (4,),
        solver=solver,
        learning_rate_init=INITIAL_RATE,
        max_iter=epochs,
        random_state=0,
        **FIXED_EPOCHS,
        **settings,
    )

    model.fit(X, y)

    assert model.n_iter_ == epochs
    assert model.optimizer_.learning_rate == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_sgd_schedules_ignored_by_new_solvers(learning_rate):
    X, y = regression_data()
    model = MLPRegressor(
        (4,),
        solver="rmsprop",
        learning_rate=learning_rate,
        learning_rate_init=INITIAL_RATE,
        max_iter=5,
        random_state=0,
        **FIXED_EPOCHS,
    )

    model.fit(X, y)

    assert model.schedule_ is None
    assert model.optimizer_.learning_rate == INITIAL_RATE


def test_adaptive_floors_at_min_learning_rate():
    X, y = regression_data()
    model = MLPRegressor(
        (4,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.5,
        min_learning_rate=0.3,
        n_iter_no_change=2,
        tol=0.5,
        max_iter=30,
        random_state=0,
    )

    model.fit(X, y)

    assert model.optimizer_.learning_rate == pytest.approx(0.3)


def test_schedule_continues_through_warm_start():
    X, y = regression_data()
    settings = {
        "solver": "adagrad",
        "learning_rate": "exponential",
        "gamma": 0.7,
        "learning_rate_init": INITIAL_RATE,
        "random_state": 0,
        **FIXED_EPOCHS,
    }
    model = MLPRegressor((4,), max_iter=3, warm_start=True, **settings).fit(X, y)

    model.set_params(max_iter=2).fit(X, y)

    assert model.n_iter_ == 5
    assert model.optimizer_.learning_rate == pytest.approx(INITIAL_RATE * 0.7**5)


def test_invscaling_continues_through_warm_start():
    X, y = regression_data()
    settings = {
        "solver": "sgd",
        "learning_rate": "invscaling",
        "power_t": 0.5,
        "learning_rate_init": INITIAL_RATE,
        "random_state": 0,
        **FIXED_EPOCHS,
    }
    model = MLPRegressor((4,), max_iter=2, warm_start=True, **settings).fit(X, y)

    model.set_params(max_iter=3).fit(X, y)

    samples_seen = 5 * X.shape[0]
    assert model.t_ == samples_seen
    expected = INITIAL_RATE / (samples_seen + 1) ** 0.5
    assert model.optimizer_.learning_rate == pytest.approx(expected)


def test_schedule_continues_through_partial_fit():
    X, y = regression_data()
    model = MLPRegressor(
        (4,),
        solver="adamw",
        learning_rate="step",
        step_size=2,
        gamma=0.5,
        learning_rate_init=INITIAL_RATE,
        random_state=0,
    )

    for _ in range(5):
        model.partial_fit(X, y)

    assert model.optimizer_.learning_rate == pytest.approx(INITIAL_RATE * 0.5**2)


def test_lbfgs_ignores_schedule():
    X, y = regression_data()
    model = MLPRegressor(
        (4,), solver="lbfgs", learning_rate="cosine", max_iter=20, random_state=0
    )

    model.fit(X, y)

    assert model.schedule_ is None


# warm_start and partial_fit with the new solvers


@pytest.mark.parametrize("solver", NEW_SOLVERS)
def test_partial_fit_equals_fit_epochs_new_solvers(solver):
    X, y = iris()
    settings = {
        "solver": solver,
        "learning_rate_init": SOLVER_RATES[solver],
        "learning_rate": "cosine",
        "decay_epochs": 8,
        "hidden_dropout": 0.2,
        "batch_size": 32,
        "random_state": 0,
        **FIXED_EPOCHS,
    }
    fitted = MLPClassifier((8,), max_iter=4, **settings).fit(X, y)

    incremental = MLPClassifier((8,), **settings)
    incremental.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(3):
        incremental.partial_fit(X, y)

    np.testing.assert_array_equal(
        incremental.network_.parameters, fitted.network_.parameters
    )
    assert incremental.optimizer_.learning_rate == fitted.optimizer_.learning_rate


@pytest.mark.parametrize("solver", NEW_SOLVERS)
def test_warm_start_equals_one_long_fit_new_solvers(solver):
    X, y = iris()
    settings = {
        "solver": solver,
        "learning_rate_init": SOLVER_RATES[solver],
        "learning_rate": "exponential",
        "gamma": 0.9,
        "input_dropout": 0.1,
        "batch_size": 32,
        "shuffle": True,
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "random_state": 0,
    }
    continuous = MLPClassifier((8,), max_iter=6, **settings).fit(X, y)

    resumed = MLPClassifier((8,), max_iter=2, warm_start=True, **settings).fit(X, y)
    resumed.set_params(max_iter=4).fit(X, y)

    np.testing.assert_array_equal(
        resumed.network_.parameters, continuous.network_.parameters
    )
    assert resumed.optimizer_.iterations == continuous.optimizer_.iterations
    assert resumed.loss_curve_ == continuous.loss_curve_


# Regularization and activations


def test_l1_scaled_like_alpha():
    X, y = regression_data(n_samples=60)
    model = MLPRegressor((4,), l1=0.5, alpha=0.25, batch_size=20, max_iter=1)

    model.fit(X, y)

    # The regressor has two outputs, which doubles both strengths.
    assert model.network_.l1 == pytest.approx(2 * 0.5 / 20)
    assert model.network_.l2 == pytest.approx(2 * 0.25 / 20)


def test_l1_drives_weights_toward_zero():
    X, y = iris()
    settings = {"solver": "sgd", "learning_rate_init": 0.1, "max_iter": 80}
    plain = MLPClassifier((16,), random_state=0, **settings).fit(X, y)
    sparse = MLPClassifier((16,), l1=2.0, random_state=0, **settings).fit(X, y)

    def near_zero_share(model):
        weights = np.concatenate([w.ravel() for w in model.coefs_])
        return np.mean(np.abs(weights) < 0.02)

    assert near_zero_share(sparse) > near_zero_share(plain) + 0.3
    assert sparse.score(X, y) > 0.9


@pytest.mark.parametrize("solver", ["sgd", "rmsprop"])
def test_max_norm_caps_incoming_weights(solver):
    X, y = iris()
    settings = {"solver": solver, "learning_rate_init": 0.1, "max_iter": 40}
    free = MLPClassifier((16,), random_state=0, **settings).fit(X, y)
    capped = MLPClassifier((16,), max_norm=0.8, random_state=0, **settings).fit(X, y)

    free_norms = [np.linalg.norm(w, axis=0).max() for w in free.coefs_]
    capped_norms = [np.linalg.norm(w, axis=0).max() for w in capped.coefs_]
    # Otherwise the cap would never have had to act.
    assert max(free_norms) > 0.8
    for norm in capped_norms:
        assert norm <= 0.8 * (1 + 1e-6)


@pytest.mark.parametrize(
    "dropout",
    [
        {"input_dropout": 0.2},
        {"hidden_dropout": 0.3},
        {"hidden_dropout": [0.0, 0.4]},
    ],
    ids=["input", "hidden", "per_layer"],
)
def test_dropout_changes_training_not_prediction(dropout):
    X, y = iris()
    settings = {"max_iter": 10, "learning_rate_init": 0.01, "random_state": 0}
    plain = MLPClassifier((8, 6), **settings).fit(X, y)
    dropped = MLPClassifier((8, 6), **settings, **dropout).fit(X, y)
    again = MLPClassifier((8, 6), **settings, **dropout).fit(X, y)

    assert dropped.network_.has_dropout
    assert not np.array_equal(dropped.network_.parameters, plain.network_.parameters)
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))
    np.testing.assert_array_equal(
        dropped.network_.parameters, again.network_.parameters
    )


def test_maxout_layers_have_pieces_per_unit():
    X, y = iris()
    model = MLPClassifier(
        (5,),
        activation="maxout",
        maxout_pieces=3,
        learning_rate_init=0.01,
        max_iter=100,
        random_state=0,
    )

    model.fit(X, y)

    assert model.coefs_[0].shape == (4, 15)
    assert model.intercepts_[0].shape == (15,)
    assert model.coefs_[1].shape == (5, 3)
    assert model.score(X, y) > 0.9


@pytest.mark.parametrize("activation", ["elu", "gelu", "softplus"])
def test_smooth_activations_accepted(activation):
    X, y = iris()
    model = MLPClassifier((8,), activation=activation, max_iter=5, random_state=0)

    model.fit(X, y)

    assert model.network_.layers[0].activation.name == activation


# Parameters


def test_new_parameters_have_documented_defaults():
    for estimator_class in (MLPClassifier, MLPRegressor):
        params = estimator_class().get_params()
        for name, default in NEW_DEFAULTS.items():
            assert params[name] == default, f"{estimator_class.__name__}.{name}"


def test_new_parameters_round_trip():
    settings = {
        "solver": "adadelta",
        "learning_rate": "cosine",
        "weight_decay": 0.2,
        "rho": 0.8,
        "step_size": 4,
        "gamma": 0.5,
        "decay_epochs": 30,
        "min_learning_rate": 1e-5,
        "l1": 0.01,
        "input_dropout": 0.1,
        "hidden_dropout": [0.2, 0.3],
        "max_norm": 2.0,
        "maxout_pieces": 4,
    }
    model = MLPClassifier((8, 4), **settings)

    copy = clone(model)
    changed = clone(model).set_params(rho=0.5, hidden_dropout=0.0)

    assert model.hidden_dropout is settings["hidden_dropout"]
    for name, value in settings.items():
        assert copy.get_params()[name] == value, name
    assert changed.rho == 0.5
    assert changed.hidden_dropout == 0.0


def test_invalid_value_stored_until_fit():
    model = MLPRegressor(rho=2.0)

    assert model.rho == 2.0
    with pytest.raises(ParameterError, match="rho"):
        model.fit(*regression_data())


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"solver": "adamax"}, "solver"),
        ({"learning_rate": "linear"}, "learning_rate"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"rho": 1.0}, "rho"),
        ({"rho": "0.9"}, "rho"),
        ({"step_size": 0}, "step_size"),
        ({"step_size": 2.5}, "step_size"),
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": 1.5}, "gamma"),
        ({"decay_epochs": 0}, "decay_epochs"),
        ({"min_learning_rate": -1e-3}, "min_learning_rate"),
        ({"min_learning_rate": float("nan")}, "min_learning_rate"),
        ({"l1": -1.0}, "l1"),
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"hidden_dropout": -0.1}, "hidden_dropout"),
        ({"hidden_dropout": [0.1, 1.0]}, "hidden_dropout"),
        ({"hidden_dropout": "0.1"}, "hidden_dropout"),
        ({"max_norm": 0.0}, "max_norm"),
        ({"maxout_pieces": 1}, "maxout_pieces"),
        ({"maxout_pieces": True}, "maxout_pieces"),
    ],
)
def test_invalid_value_named_in_error(settings, name):
    X, y = regression_data()

    with pytest.raises(ParameterError, match=f"{name} must be"):
        MLPRegressor((4, 3), **settings).fit(X, y)


def test_hidden_dropout_needs_rate_per_layer():
    X, y = regression_data()

    with pytest.raises(ParameterError, match=r"hidden_dropout needs one rate .*\(2\)"):
        MLPRegressor((4, 3), hidden_dropout=[0.1, 0.2, 0.3]).fit(X, y)


@pytest.mark.parametrize(
    "settings",
    [{"input_dropout": 0.1}, {"hidden_dropout": [0.0, 0.2]}, {"max_norm": 1.0}],
    ids=["input_dropout", "hidden_dropout", "max_norm"],
)
def test_lbfgs_rejects_stochastic_only_options(settings):
    X, y = regression_data()
    name = next(iter(settings))

    with pytest.raises(ParameterError, match=rf"solver='lbfgs'.*{name}="):
        MLPRegressor((4, 3), solver="lbfgs", **settings).fit(X, y)


def test_lbfgs_accepts_zero_dropout_rates():
    X, y = regression_data()
    model = MLPRegressor((4, 3), solver="lbfgs", hidden_dropout=[0.0, 0.0], max_iter=5)

    model.fit(X, y)

    assert not model.network_.has_dropout


@pytest.mark.parametrize("learning_rate", ["cosine", "adaptive"])
def test_min_learning_rate_above_initial_rejected(learning_rate):
    X, y = regression_data()
    model = MLPRegressor(
        learning_rate=learning_rate, learning_rate_init=0.01, min_learning_rate=0.1
    )

    with pytest.raises(ParameterError, match="min_learning_rate must be at most"):
        model.fit(X, y)
