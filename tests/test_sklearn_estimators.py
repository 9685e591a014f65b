"""The scikit-learn estimators: scikit-learn's own checks, then each feature."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.metrics import recall_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlpkit.errors import ConvergenceWarning
from mlpkit.sklearn import MLPClassifier, MLPRegressor

# Most fits below stop at max_iter on purpose, to stay fast.
pytestmark = pytest.mark.filterwarnings("ignore::mlpkit.errors.ConvergenceWarning")

EARLY_STOPPING_SETTINGS = {
    "hidden_layer_sizes": (8, 6),
    "solver": "sgd",
    "learning_rate_init": 0.05,
    "early_stopping": True,
    "max_iter": 100,
    "random_state": 0,
}
CHECKED_ESTIMATORS = [
    MLPClassifier(random_state=0),
    MLPRegressor(random_state=0),
    MLPClassifier(activation="tanh", **EARLY_STOPPING_SETTINGS),
    MLPRegressor(activation="logistic", **EARLY_STOPPING_SETTINGS),
]


def expected_failed_checks(estimator):
    if estimator.early_stopping:
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the validation split holds out rows, not weight, so repeated "
                "rows and integer weights train and validate on different data"
            )
        }
    return {}


@parametrize_with_checks(
    CHECKED_ESTIMATORS, expected_failed_checks=expected_failed_checks
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# Data and helpers


def make_binary(n_samples=80, seed=0):
    X, y = make_classification(
        n_samples=n_samples, n_features=6, n_informative=4, random_state=seed
    )
    return X, y


def make_multiclass(n_samples=90, seed=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=6,
        n_informative=4,
        n_classes=3,
        random_state=seed,
    )
    return X, y


def make_multilabel(n_samples=80, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=n_samples, n_features=6, n_classes=4, random_state=seed
    )
    return StandardScaler().fit_transform(X), Y


def make_multioutput_regression(n_samples=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    y = np.column_stack([X[:, 0] - 2 * X[:, 1], np.sin(X[:, 2]) + X[:, 3] ** 2])
    return X, y


def small(estimator_class, **settings):
    defaults = {
        "hidden_layer_sizes": (12,),
        "learning_rate_init": 0.01,
        "max_iter": 40,
        "random_state": 0,
    }
    return estimator_class(**{**defaults, **settings})


# Every kind of target, with the estimator that fits it and its data.
TARGET_CASES = {
    "binary": (MLPClassifier, make_binary),
    "multiclass": (MLPClassifier, make_multiclass),
    "multilabel": (MLPClassifier, make_multilabel),
    "multioutput": (MLPRegressor, make_multioutput_regression),
}


def partial_fit_kwargs(estimator, y):
    if not isinstance(estimator, MLPClassifier):
        return {}
    classes = np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)
    return {"classes": classes}


# Classification outputs


def test_binary_predict_proba_has_two_columns():
    X, y = make_binary()
    model = small(MLPClassifier).fit(X, y)

    proba = model.predict_proba(X)

    assert proba.shape == (X.shape[0], 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        model.classes_[proba.argmax(axis=1)], model.predict(X)
    )


def test_binary_network_has_one_sigmoid_output():
    X, y = make_binary()
    model = small(MLPClassifier).fit(X, y)

    assert model.n_outputs_ == 1
    assert model.out_activation_ == "sigmoid"
    assert model.network_.loss.name == "binary_cross_entropy"


def test_multiclass_uses_softmax_and_string_labels():
    X, y = make_multiclass()
    labels = np.array(["bird", "cat", "dog"])[y]
    model = small(MLPClassifier, max_iter=100).fit(X, labels)

    proba = model.predict_proba(X)

    assert model.out_activation_ == "softmax"
    assert proba.shape == (X.shape[0], 3)
    np.testing.assert_array_equal(model.classes_, ["bird", "cat", "dog"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.score(X, labels) > 0.8


def test_predict_log_proba_is_log_of_predict_proba():
    X, y = make_multiclass()
    model = small(MLPClassifier).fit(X, y)

    np.testing.assert_allclose(
        model.predict_log_proba(X), np.log(model.predict_proba(X))
    )


def test_multilabel_fit_predicts_indicator_matrix():
    X, Y = make_multilabel()
    model = small(MLPClassifier, max_iter=150).fit(X, Y)

    predictions = model.predict(X)
    proba = model.predict_proba(X)

    assert predictions.shape == Y.shape
    assert set(np.unique(predictions)) <= {0, 1}
    assert proba.shape == Y.shape
    assert model.out_activation_ == "sigmoid"
    assert model.network_.loss.name == "binary_cross_entropy"
    np.testing.assert_array_equal(predictions, (proba > 0.5).astype(int))
    # Every label is right for about 85% of the samples, against at most 69%
    # for predicting each label's majority value.
    assert (predictions == Y).mean() > 0.8


def test_single_class_is_rejected():
    X, _ = make_binary()

    with pytest.raises(ValueError, match="one class"):
        small(MLPClassifier).fit(X, np.zeros(X.shape[0]))


# partial_fit


@pytest.mark.parametrize("target", list(TARGET_CASES))
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_equals_fit_epochs(target, solver):
    estimator_class, make_data = TARGET_CASES[target]
    X, y = make_data()
    weights = np.random.default_rng(1).uniform(0.2, 2.0, X.shape[0])
    settings = {
        "solver": solver,
        "batch_size": 16,
        "shuffle": False,
        "max_iter": 7,
        "n_iter_no_change": 100,
    }
    fitted = small(estimator_class, **settings).fit(X, y, sample_weight=weights)

    incremental = small(estimator_class, **settings)
    kwargs = partial_fit_kwargs(incremental, y)
    for _ in range(7):
        incremental.partial_fit(X, y, sample_weight=weights, **kwargs)
        kwargs = {}

    np.testing.assert_array_equal(
        incremental.network_.parameters, fitted.network_.parameters
    )
    assert incremental.n_iter_ == fitted.n_iter_ == 7
    assert incremental.loss_curve_ == fitted.loss_curve_


def test_partial_fit_with_shuffling_equals_fit():
    X, y = make_multiclass()
    settings = {"batch_size": 10, "max_iter": 5, "n_iter_no_change": 100}
    fitted = small(MLPClassifier, **settings).fit(X, y)

    incremental = small(MLPClassifier, **settings)
    for _ in range(5):
        incremental.partial_fit(X, y, classes=[0, 1, 2])

    np.testing.assert_array_equal(
        incremental.network_.parameters, fitted.network_.parameters
    )


def test_partial_fit_requires_classes_on_first_call():
    X, y = make_binary()

    with pytest.raises(ValueError, match="classes must be passed"):
        small(MLPClassifier).partial_fit(X, y)


def test_partial_fit_accepts_batches_missing_a_class():
    X, y = make_multiclass()
    model = small(MLPClassifier)

    model.partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    model.partial_fit(X[y != 0], y[y != 0])

    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    assert model.predict_proba(X).shape == (X.shape[0], 3)


def test_partial_fit_rejects_unknown_label():
    X, y = make_binary()
    model = small(MLPClassifier).partial_fit(X, y, classes=[0, 1])

    with pytest.raises(ValueError, match=r"labels \[2\]"):
        model.partial_fit(X, np.where(y == 1, 2, 0))


def test_partial_fit_rejects_changed_classes():
    X, y = make_binary()
    model = small(MLPClassifier).partial_fit(X, y, classes=[0, 1])

    with pytest.raises(ValueError, match="classes must match"):
        model.partial_fit(X, y, classes=[0, 1, 2])


def test_multilabel_partial_fit_takes_column_indices():
    X, Y = make_multilabel()
    model = small(MLPClassifier)

    model.partial_fit(X[:40], Y[:40], classes=np.arange(4))
    model.partial_fit(X[40:], Y[40:])

    np.testing.assert_array_equal(model.classes_, np.arange(4))
    assert model.predict(X).shape == Y.shape


def test_multilabel_partial_fit_rejects_label_values_as_classes():
    X, Y = make_multilabel()

    with pytest.raises(ValueError, match="column indices"):
        small(MLPClassifier).partial_fit(X, Y, classes=[0, 1])


def test_partial_fit_rejects_other_kind_of_target():
    X, Y = make_multilabel()
    model = small(MLPClassifier).partial_fit(X, Y, classes=np.arange(4))

    with pytest.raises(ValueError, match="label indicator matrix"):
        model.partial_fit(X, Y[:, 0])


def test_regressor_partial_fit_rejects_other_output_count():
    X, y = make_multioutput_regression()
    model = small(MLPRegressor).partial_fit(X, y)

    with pytest.raises(ValueError, match="must have 2 outputs"):
        model.partial_fit(X, y[:, 0])


# warm_start


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_warm_start_continues_like_one_long_fit(solver, shuffle):
    X, y = make_multiclass()
    settings = {
        "solver": solver,
        "shuffle": shuffle,
        "batch_size": 16,
        "n_iter_no_change": 100,
    }
    continuous = small(MLPClassifier, max_iter=12, **settings).fit(X, y)

    resumed = small(MLPClassifier, max_iter=5, warm_start=True, **settings).fit(X, y)
    resumed.set_params(max_iter=7).fit(X, y)

    np.testing.assert_array_equal(
        resumed.network_.parameters, continuous.network_.parameters
    )
    assert resumed.n_iter_ == 12
    assert resumed.optimizer_.iterations == continuous.optimizer_.iterations
    assert resumed.loss_curve_ == continuous.loss_curve_


def test_warm_start_keeps_adam_moments():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=3, warm_start=True).fit(X, y)
    optimizer = model.optimizer_
    steps, state = optimizer.get_state()
    moments = {name: values.copy() for name, values in state.items()}

    model.fit(X, y)

    assert model.optimizer_ is optimizer
    assert optimizer.iterations > steps
    assert not np.array_equal(
        optimizer.get_state()[1]["first_moment"], moments["first_moment"]
    )


def test_fit_without_warm_start_starts_afresh():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=5).fit(X, y)
    first = model.network_.parameters.copy()

    model.fit(X, y)

    np.testing.assert_array_equal(model.network_.parameters, first)
    assert model.n_iter_ == 5


def test_warm_start_rejects_new_label():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=2, warm_start=True).fit(X, y)

    with pytest.raises(ValueError, match="not among the classes"):
        model.fit(X, np.where(y == 1, 5, 0))


# Sample weights and class weights


def test_zero_weight_equals_dropping_rows():
    X, y = make_binary()
    weights = np.ones(X.shape[0])
    weights[::4] = 0.0
    settings = {"shuffle": False, "batch_size": 200, "n_iter_no_change": 100}

    weighted = small(MLPClassifier, **settings).fit(X, y, sample_weight=weights)
    dropped = small(MLPClassifier, **settings).fit(X[weights > 0], y[weights > 0])

    np.testing.assert_allclose(
        weighted.network_.parameters, dropped.network_.parameters, rtol=1e-9
    )


def test_integer_weight_equals_repeating_rows():
    X, y = make_multioutput_regression()
    weights = np.random.default_rng(2).integers(1, 4, X.shape[0])
    settings = {"shuffle": False, "batch_size": 1000, "n_iter_no_change": 100}

    weighted = small(MLPRegressor, **settings).fit(X, y, sample_weight=weights)
    repeated = small(MLPRegressor, **settings).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0)
    )

    np.testing.assert_allclose(
        weighted.predict(X), repeated.predict(X), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 4.0}])
def test_class_weight_equals_sample_weight(class_weight):
    X, y = make_binary()
    y[:30] = 0  # Relabel 30 samples so the classes are unbalanced.
    settings = {"shuffle": False, "n_iter_no_change": 100}

    by_class = small(MLPClassifier, class_weight=class_weight, **settings).fit(X, y)
    by_sample = small(MLPClassifier, **settings).fit(
        X, y, sample_weight=compute_sample_weight(class_weight, y)
    )

    np.testing.assert_array_equal(
        by_class.network_.parameters, by_sample.network_.parameters
    )


def test_class_weight_multiplies_sample_weight():
    X, y = make_binary()
    weights = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[0])
    class_weight = {0: 3.0, 1: 1.0}
    settings = {"shuffle": False, "n_iter_no_change": 100}

    combined = small(MLPClassifier, class_weight=class_weight, **settings).fit(
        X, y, sample_weight=weights
    )
    product = small(MLPClassifier, **settings).fit(
        X, y, sample_weight=weights * compute_sample_weight(class_weight, y)
    )

    np.testing.assert_array_equal(
        combined.network_.parameters, product.network_.parameters
    )


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(
        n_samples=300, n_features=6, weights=[0.9, 0.1], flip_y=0.05, random_state=4
    )
    settings = {"max_iter": 60, "hidden_layer_sizes": (8,)}

    plain = small(MLPClassifier, **settings).fit(X, y)
    balanced = small(MLPClassifier, class_weight="balanced", **settings).fit(X, y)

    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X))


def test_balanced_class_weight_rejected_in_partial_fit():
    X, y = make_binary()

    with pytest.raises(ValueError, match="partial_fit"):
        small(MLPClassifier, class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_dict_class_weight_works_in_partial_fit():
    X, y = make_binary()
    settings = {"shuffle": False, "class_weight": {0: 2.0, 1: 1.0}}

    incremental = small(MLPClassifier, **settings).partial_fit(X, y, classes=[0, 1])
    fitted = small(MLPClassifier, max_iter=1, **settings).fit(X, y)

    np.testing.assert_array_equal(
        incremental.network_.parameters, fitted.network_.parameters
    )


def test_multilabel_class_weight_per_label():
    X, Y = make_multilabel()
    class_weight = [{0: 1.0, 1: 2.0}] * Y.shape[1]
    settings = {"shuffle": False, "n_iter_no_change": 100}

    by_class = small(MLPClassifier, class_weight=class_weight, **settings).fit(X, Y)
    by_sample = small(MLPClassifier, **settings).fit(
        X, Y, sample_weight=compute_sample_weight(class_weight, Y)
    )

    np.testing.assert_array_equal(
        by_class.network_.parameters, by_sample.network_.parameters
    )


def test_weights_leaving_one_class_are_rejected():
    X, y = make_binary()

    with pytest.raises(ValueError, match="one class"):
        small(MLPClassifier).fit(X, y, sample_weight=(y == 1).astype(float))


# Early stopping and the curves


def validation_rows(model, y):
    # The estimator's own split, drawn again from the same random_state.
    return model._split_rows(np.asarray(y))[1]


def test_early_stopping_keeps_best_validation_epoch():
    X, y = make_multiclass(n_samples=150)
    model = small(
        MLPClassifier,
        early_stopping=True,
        learning_rate_init=0.05,
        max_iter=300,
        n_iter_no_change=5,
        tol=0.0,
    ).fit(X, y)
    rows = validation_rows(model, y)
    encoded = model._label_binarizer.transform(y[rows])

    kept_loss = model.network_.loss_value(X[rows], encoded)

    assert model.n_iter_ < 300
    assert model.best_validation_loss_ == min(model.validation_loss_curve_)
    assert kept_loss == pytest.approx(model.best_validation_loss_, rel=1e-12)
    assert model.best_validation_score_ == pytest.approx(model.score(X[rows], y[rows]))


def test_early_stopping_curves_have_one_entry_per_epoch():
    X, y = make_multioutput_regression(n_samples=120)
    model = small(MLPRegressor, early_stopping=True, max_iter=25).fit(X, y)

    assert len(model.loss_curve_) == model.n_iter_
    assert len(model.validation_loss_curve_) == model.n_iter_
    assert len(model.validation_scores_) == model.n_iter_
    assert all(score <= 1.0 for score in model.validation_scores_)
    assert model.best_loss_ is None


def test_curves_without_early_stopping():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=10, n_iter_no_change=100).fit(X, y)

    assert len(model.loss_curve_) == 10
    assert model.loss_ == model.loss_curve_[-1]
    assert model.best_loss_ == min(model.loss_curve_)
    assert model.validation_loss_curve_ is None
    assert model.validation_scores_ is None
    assert model.t_ == 10 * X.shape[0]


def test_stratified_validation_split_keeps_class_shares():
    _, y = make_multiclass(n_samples=150)
    model = small(MLPClassifier, early_stopping=True, validation_fraction=0.2)

    rows = validation_rows(model, y)

    np.testing.assert_array_equal(np.bincount(y[rows]), [10, 10, 10])


def test_max_iter_reached_warns_with_parameter_name():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=3)

    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        model.fit(X, y)


def test_converged_fit_does_not_warn():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=500, n_iter_no_change=2, tol=0.1)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)

    assert model.n_iter_ < 500


# Settings, state and dtypes


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
        ({"activation": "softmax"}, "activation"),
        ({"solver": "newton"}, "solver"),
        ({"learning_rate": "optimal"}, "learning_rate"),
        ({"alpha": -1.0}, "alpha"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate_init": 0.0}, "learning_rate_init"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": 1.0}, "tol"),
        ({"momentum": 1.5}, "momentum"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"beta_1": 1.0}, "beta_1"),
        ({"beta_2": -0.1}, "beta_2"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"shuffle": "yes"}, "shuffle"),
        ({"class_weight": "auto"}, "class_weight"),
    ],
)
def test_invalid_setting_named_in_error(settings, message):
    X, y = make_binary()

    with pytest.raises(ValueError, match=f"{message} must be"):
        small(MLPClassifier, **settings).fit(X, y)


def test_logistic_is_sigmoid():
    X, y = make_binary()

    logistic = small(MLPClassifier, activation="logistic", max_iter=5).fit(X, y)
    sigmoid = small(MLPClassifier, activation="sigmoid", max_iter=5).fit(X, y)

    np.testing.assert_array_equal(
        logistic.network_.parameters, sigmoid.network_.parameters
    )


def test_no_hidden_layers_is_a_linear_model():
    X, y = make_multioutput_regression()
    model = small(MLPRegressor, hidden_layer_sizes=()).fit(X, y)

    assert model.n_layers_ == 2
    assert [weights.shape for weights in model.coefs_] == [(5, 2)]


def test_coefs_are_views_of_network_parameters():
    X, y = make_binary()
    model = small(MLPClassifier, hidden_layer_sizes=(4, 3), max_iter=2).fit(X, y)

    assert [weights.shape for weights in model.coefs_] == [(6, 4), (4, 3), (3, 1)]
    assert [biases.shape for biases in model.intercepts_] == [(4,), (3,), (1,)]
    assert all(np.shares_memory(w, model.network_.parameters) for w in model.coefs_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_network_dtype_follows_input(dtype):
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=2).fit(X.astype(dtype), y)

    assert model.network_.dtype == dtype
    assert model.predict_proba(X).dtype == dtype


def test_same_random_state_gives_same_weights():
    X, y = make_binary()

    first = small(MLPClassifier, max_iter=3).fit(X, y)
    second = small(MLPClassifier, max_iter=3).fit(X, y)
    other = small(MLPClassifier, max_iter=3, random_state=1).fit(X, y)

    np.testing.assert_array_equal(first.network_.parameters, second.network_.parameters)
    assert not np.array_equal(first.network_.parameters, other.network_.parameters)


def test_clone_of_fitted_estimator_is_unfitted():
    X, y = make_binary()
    model = small(MLPClassifier, max_iter=2).fit(X, y)

    copy = clone(model)

    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "network_")


def test_pickled_estimator_keeps_training_identically():
    X, y = make_multioutput_regression()
    model = small(MLPRegressor, shuffle=False).partial_fit(X, y)
    restored = pickle.loads(pickle.dumps(model))

    model.partial_fit(X, y)
    restored.partial_fit(X, y)

    np.testing.assert_array_equal(
        restored.network_.parameters, model.network_.parameters
    )
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


def test_single_output_regression_predicts_1d():
    X, y = make_multioutput_regression()

    for target in (y[:, 0], y[:, :1]):
        model = small(MLPRegressor, max_iter=2).fit(X, target)
        assert model.predict(X).shape == (X.shape[0],)


def test_multioutput_regression_fits_both_targets():
    X, y = make_multioutput_regression(n_samples=200)
    model = small(MLPRegressor, hidden_layer_sizes=(32,), max_iter=300).fit(X, y)

    assert model.predict(X).shape == y.shape
    assert model.out_activation_ == "identity"
    assert model.score(X, y) > 0.9
