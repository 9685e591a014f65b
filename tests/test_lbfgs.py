"""Full-batch L-BFGS: its history, caps and stops, and scikit-learn as the oracle.

scikit-learn's ``solver="lbfgs"`` calls the same SciPy routine on the same
objective, so from the same initial weights the two runs take the same
iterates until rounding differences grow (see the tolerances below).
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from mlpkit.errors import ConvergenceWarning, ParameterError, TrainingDivergedError
from mlpkit.lbfgs import LbfgsHistory, train_lbfgs
from mlpkit.network import Network


def regression_case(n_samples=60, n_outputs=1, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    columns = [np.tanh(X[:, 0] - 0.5 * X[:, 1]) + 0.3 * X[:, 2]]
    if n_outputs == 2:
        columns.append(X[:, 1] * X[:, 2])
    y = np.column_stack(columns) + 0.05 * rng.normal(size=(n_samples, n_outputs))
    network = Network([3, 4, n_outputs], activation="tanh", dtype=dtype, seed=seed)
    return network, X, y


def test_history_records_every_iteration():
    network, X, y = regression_case()
    initial_loss = network.loss_value(X, y)

    history = train_lbfgs(network, X, y, max_iterations=500)
    losses = history.column("train_loss")

    assert isinstance(history, LbfgsHistory)
    assert history.converged
    assert history.status == 0
    assert history.monitor == "train_loss"
    assert history.best_epoch == history.epochs
    assert [record.epoch for record in history.records] == list(
        range(1, history.epochs + 1)
    )
    assert history.n_function_evaluations >= history.epochs
    assert losses[0] < initial_loss
    # Every accepted point passed a line search that lowers the loss.
    assert all(later <= earlier for earlier, later in zip(losses, losses[1:]))
    assert losses[-1] == pytest.approx(network.loss_value(X, y), rel=1e-12)


def test_max_iterations_warns_and_stops():
    network, X, y = regression_case()

    with pytest.warns(ConvergenceWarning, match="max_iterations=3"):
        history = train_lbfgs(network, X, y, max_iterations=3)

    assert history.epochs == 3
    assert not history.converged
    assert history.status == 1


def test_warning_can_be_turned_off():
    network, X, y = regression_case()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train_lbfgs(
            network, X, y, max_iterations=2, warn_if_not_converged=False
        )

    assert not history.converged


def test_float32_network_keeps_its_dtype():
    network, X, y = regression_case(dtype="float32")
    initial_loss = network.loss_value(X, y)

    with warnings.catch_warnings():
        # A float32 line search may stop early; that is not under test here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        history = train_lbfgs(network, X, y, max_iterations=100)

    assert network.parameters.dtype == np.float32
    assert history.column("train_loss")[-1] < 0.5 * initial_loss


def test_integer_sample_weights_equal_repeated_rows():
    weighted, X, y = regression_case(n_samples=30)
    repeated = Network.from_config(weighted.get_config(), weighted.get_arrays())
    counts = np.random.default_rng(1).integers(1, 4, size=30)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        by_weight = train_lbfgs(
            weighted, X, y, counts.astype(np.float64), max_iterations=10
        )
        by_rows = train_lbfgs(
            repeated,
            np.repeat(X, counts, axis=0),
            np.repeat(y, counts, axis=0),
            max_iterations=10,
        )

    np.testing.assert_allclose(
        by_weight.column("train_loss"), by_rows.column("train_loss"), rtol=1e-9
    )
    np.testing.assert_allclose(weighted.parameters, repeated.parameters, rtol=1e-7)


def test_validation_metrics_and_callback():
    network, X, y = regression_case(n_samples=80)
    X_val, y_val = X[60:], y[60:]
    seen = []

    def metric_function(outputs):
        return {"max_error": float(np.abs(outputs - y_val).max())}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        history = train_lbfgs(
            network,
            X[:60],
            y[:60],
            max_iterations=5,
            validation=(X_val, y_val),
            metric_function=metric_function,
            on_iteration=seen.append,
        )

    assert history.monitor == "validation_loss"
    assert seen == history.records
    assert len(seen) == 5
    last = history.records[-1]
    assert last.validation_loss == pytest.approx(network.loss_value(X_val, y_val))
    assert last.metrics["max_error"] == pytest.approx(
        np.abs(network.forward(X_val) - y_val).max()
    )


def test_stop_request_ends_training():
    network, X, y = regression_case()
    polls = []

    def stop_requested():
        polls.append(True)
        return len(polls) >= 2

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train_lbfgs(network, X, y, stop_requested=stop_requested)

    assert history.interrupted
    assert not history.converged
    assert history.epochs == 2
    assert history.records[-1].train_loss == pytest.approx(network.loss_value(X, y))


def test_start_at_minimum_takes_no_iteration():
    network, X, y = regression_case()
    start = network.parameters.copy()

    history = train_lbfgs(network, X, y, gradient_tolerance=1e6)

    assert history.converged
    assert history.epochs == 0
    assert history.best_epoch == 0
    np.testing.assert_array_equal(network.parameters, start)


def test_non_finite_target_restores_weights():
    network, X, y = regression_case()
    y[0, 0] = np.inf
    start = network.parameters.copy()

    with np.errstate(invalid="ignore"), pytest.raises(
        TrainingDivergedError, match="L-BFGS diverged"
    ):
        train_lbfgs(network, X, y)

    np.testing.assert_array_equal(network.parameters, start)


INVALID_SETTINGS = [
    ({"max_iterations": 0}, "max_iterations"),
    ({"max_iterations": 2.5}, "max_iterations"),
    ({"max_function_evaluations": 0}, "max_function_evaluations"),
    ({"history_size": 0}, "history_size"),
    ({"gradient_tolerance": -1e-4}, "gradient_tolerance"),
    ({"loss_tolerance": float("nan")}, "loss_tolerance"),
]


@pytest.mark.parametrize("settings, parameter", INVALID_SETTINGS)
def test_invalid_setting_rejected(settings, parameter):
    network, X, y = regression_case()

    with pytest.raises(ParameterError, match=parameter):
        train_lbfgs(network, X, y, **settings)


# scikit-learn's lbfgs solver as the oracle
#
# Both sides minimize the same function of the same weights. mlpkit's squared
# error is ½ Σₖ (ŷₖ − yₖ)² averaged over rows, scikit-learn's is the same
# averaged over rows and outputs, so with K outputs mlpkit's loss and gradient
# are K times scikit-learn's. L-BFGS takes the same iterates on a function
# scaled by a constant, but its stopping tests are absolute, so multi-output
# regression is compared over a fixed number of iterations only. The two
# cross-entropies are equal.


def fit_scikit_learn(estimator, network, X, target, max_iterations, tolerance):
    """Run scikit-learn's lbfgs solver from the network's weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        # One iteration builds the fitted attributes, then the weights are set.
        estimator.set_params(max_iter=1)
        estimator.fit(X, target)
        estimator.coefs_ = [layer.weights.copy() for layer in network.layers]
        estimator.intercepts_ = [layer.biases.copy() for layer in network.layers]
        estimator.set_params(warm_start=True, max_iter=max_iterations, tol=tolerance)
        estimator.fit(X, target)
    return estimator


def classification_case(n_classes, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(90, 4))
    noise = 0.5 * rng.normal(size=(90, n_classes))
    scores = X @ rng.normal(size=(4, n_classes)) + noise
    labels = scores.argmax(axis=1)
    if n_classes == 2:
        network = Network(
            [4, 5, 1],
            activation="tanh",
            output_activation="sigmoid",
            loss="binary_cross_entropy",
            dtype="float64",
            seed=seed,
        )
        return network, X, labels, labels[:, None].astype(np.float64)
    network = Network(
        [4, 5, n_classes],
        activation="tanh",
        output_activation="softmax",
        loss="categorical_cross_entropy",
        dtype="float64",
        seed=seed,
    )
    return network, X, labels, np.eye(n_classes)[labels]


def oracle_case(kind):
    """Return a network, inputs, encoded targets, scikit-learn's targets, estimator.

    The last value is mlpkit's loss divided by scikit-learn's on the case.
    """
    if kind == "linear_regression":
        _, X, y = regression_case()
        network = Network([3, 1], dtype="float64", seed=0)
        estimator = MLPRegressor(hidden_layer_sizes=(), solver="lbfgs", alpha=0.0)
        return network, X, y, y[:, 0], estimator, 1
    if kind.startswith("regression"):
        n_outputs = 2 if kind.endswith("two_outputs") else 1
        network, X, y = regression_case(n_outputs=n_outputs)
        target = y if n_outputs == 2 else y[:, 0]
        estimator = MLPRegressor(
            hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=0.0
        )
        return network, X, y, target, estimator, n_outputs
    n_classes = 2 if kind == "binary" else 3
    network, X, labels, y = classification_case(n_classes)
    estimator = MLPClassifier(
        hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs", alpha=0.0
    )
    return network, X, y, labels, estimator, 1


ORACLE_CASES = ["regression", "regression_two_outputs", "binary", "multiclass"]


@pytest.mark.parametrize("kind", ORACLE_CASES)
def test_iterates_match_scikit_learn(kind):
    network, X, y, target, estimator, loss_scale = oracle_case(kind)
    n_iterations = 12

    reference = fit_scikit_learn(estimator, network, X, target, n_iterations, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        history = train_lbfgs(
            network, X, y, max_iterations=n_iterations, gradient_tolerance=0.0
        )

    # The losses agree to about 1e-15 relative over the first 14 iterations of
    # these cases. At iteration 15 of the two-output regression a line search
    # ends differently, and they then differ by 2e-4.
    assert history.epochs == reference.n_iter_ == n_iterations
    loss = history.records[-1].train_loss / loss_scale
    assert loss == pytest.approx(reference.loss_, rel=1e-9)
    for index, layer in enumerate(network.layers):
        np.testing.assert_allclose(layer.weights, reference.coefs_[index], rtol=1e-7)
        np.testing.assert_allclose(
            layer.biases, reference.intercepts_[index], rtol=1e-7, atol=1e-12
        )


# The regression with a hidden layer is missing here on purpose. Its loss has
# flat valleys, and after some hundred iterations the grown rounding
# differences make the two runs stop at different points. Over 20 variants of
# this case (5 seeds, 60 or 200 rows, 2 or 4 hidden units) their final losses
# differed by 1e-12 to 4.5e-2 relative. The two classifiers converge in about
# 40 iterations, before the differences grow.
FINAL_LOSS_CASES = ["linear_regression", "binary", "multiclass"]


@pytest.mark.parametrize("kind", FINAL_LOSS_CASES)
def test_final_loss_matches_scikit_learn(kind):
    network, X, y, target, estimator, _ = oracle_case(kind)
    initial_loss = network.loss_value(X, y)

    reference = fit_scikit_learn(estimator, network, X, target, 1000, 1e-5)
    history = train_lbfgs(network, X, y, max_iterations=1000, gradient_tolerance=1e-5)

    assert history.converged
    assert reference.n_iter_ < 1000
    assert history.records[-1].train_loss < 0.5 * initial_loss
    assert history.records[-1].train_loss == pytest.approx(reference.loss_, rel=1e-6)


def test_linear_network_reaches_least_squares():
    network, X, y, *_ = oracle_case("linear_regression")

    train_lbfgs(network, X, y, gradient_tolerance=1e-8)

    design = np.column_stack([X, np.ones(len(X))])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ solution
    minimum = 0.5 * np.mean(residual**2)
    assert network.loss_value(X, y) == pytest.approx(minimum, rel=1e-9)
