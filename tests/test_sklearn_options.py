"""scikit-learn estimator settings: L-BFGS, learning-rate schedules, alpha, losses."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from mlpkit.errors import ParameterError
from mlpkit.sklearn import MLPClassifier, MLPRegressor


@pytest.fixture(autouse=True)
def quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def regression_data(n=150):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1]


def binary_data(n=150):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def test_lbfgs_regressor_fits_closely():
    X, y = regression_data()
    model = MLPRegressor((16,), solver="lbfgs", max_iter=300, random_state=0).fit(X, y)

    assert model.score(X, y) > 0.98
    assert model.n_iter_ == len(model.loss_curve_)


def test_lbfgs_classifier_and_max_fun():
    X, y = binary_data()
    model = MLPClassifier((8,), solver="lbfgs", max_fun=20, random_state=0).fit(X, y)

    assert model.n_iter_ <= 20


def test_lbfgs_has_no_partial_fit():
    X, y = regression_data()
    with pytest.raises(ParameterError, match="partial_fit"):
        MLPRegressor(solver="lbfgs").partial_fit(X, y)


def test_invscaling_uses_samples_seen():
    X, y = regression_data(n=100)
    model = MLPRegressor(
        (4,), solver="sgd", learning_rate="invscaling", power_t=0.5,
        learning_rate_init=0.01, max_iter=3, tol=0.0, random_state=0,
    ).fit(X, y)

    assert model.optimizer_.learning_rate == pytest.approx(0.01 / (300 + 1) ** 0.5)


def test_invscaling_partial_fit_matches_fit():
    X, y = regression_data(n=100)
    settings = dict(solver="sgd", learning_rate="invscaling", random_state=0, tol=0.0)
    fitted = MLPRegressor((4,), max_iter=2, **settings).fit(X, y)
    partial = MLPRegressor((4,), **settings)
    partial.partial_fit(X, y).partial_fit(X, y)

    assert np.array_equal(fitted.network_.parameters, partial.network_.parameters)


def test_adaptive_divides_rate_on_plateau():
    X, y = regression_data(n=100)
    model = MLPRegressor(
        (4,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.5,
        n_iter_no_change=2, tol=0.5, max_iter=30, random_state=0,
    ).fit(X, y)

    assert model.optimizer_.learning_rate < 0.5


def test_learning_rate_ignored_by_adam():
    X, y = regression_data(n=80)
    settings = dict(random_state=0, max_iter=3)
    plain = MLPRegressor((4,), **settings).fit(X, y)
    scheduled = MLPRegressor((4,), learning_rate="invscaling", **settings).fit(X, y)

    assert np.array_equal(plain.network_.parameters, scheduled.network_.parameters)


def test_alpha_shrinks_weights():
    X, y = regression_data()
    settings = dict(solver="lbfgs", max_iter=200, random_state=0)
    small = MLPRegressor((8,), alpha=1e-5, **settings).fit(X, y)
    large = MLPRegressor((8,), alpha=10.0, **settings).fit(X, y)

    assert np.linalg.norm(large.coefs_[0]) < np.linalg.norm(small.coefs_[0])


def test_alpha_maps_to_l2_per_batch():
    X, y = regression_data(n=100)
    model = MLPRegressor((4,), alpha=0.5, batch_size=20, max_iter=1).fit(X, y)

    assert model.network_.l2 == pytest.approx(0.5 / 20)


@pytest.mark.parametrize(
    "loss, extra",
    [
        ("absolute_error", {}),
        ("huber", {"huber_delta": 0.3}),
        ("quantile", {"quantile": 0.7}),
        ("poisson", {}),
    ],
)
def test_regressor_loss(loss, extra):
    X, y = regression_data()
    y = np.abs(y) if loss == "poisson" else y
    model = MLPRegressor((8,), loss=loss, max_iter=20, random_state=0, **extra)
    model.fit(X, y)

    assert model.network_.loss.name == loss
    assert clone(model).get_params()["loss"] == loss
    assert model.predict(X).shape == y.shape


def test_poisson_predicts_positive_rates():
    X, y = regression_data()
    model = MLPRegressor((8,), loss="poisson", max_iter=30, random_state=0)
    model.fit(X, np.abs(y))

    assert np.all(model.predict(X) > 0)


def test_poisson_rejects_negative_targets():
    X, y = regression_data()
    with pytest.raises(ValueError, match="non-negative"):
        MLPRegressor(loss="poisson").fit(X, y - 5)


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"loss": "hinge"}, "loss"),
        ({"loss": "huber", "huber_delta": -1.0}, "delta"),
        ({"learning_rate": "optimal"}, "learning_rate"),
        ({"power_t": -0.5}, "power_t"),
        ({"max_fun": 0}, "max_fun"),
    ],
)
def test_invalid_regressor_setting_named(settings, name):
    X, y = regression_data(n=20)
    with pytest.raises(ValueError, match=name):
        MLPRegressor(**settings).fit(X, y)
