"""Estimators in scikit-learn workflows: pipelines, grid search, cross-validation."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.datasets import load_iris
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlpkit.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::mlpkit.errors.ConvergenceWarning")


def make_table(n_samples=240, seed=0):
    """Return a mixed table with a label that needs both kinds of column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10.0, 3.0, n_samples),
            "weight": rng.normal(50.0, 10.0, n_samples),
            "color": rng.choice(["red", "green", "blue"], n_samples),
        }
    )
    label = np.where((frame["size"] > 10) ^ (frame["color"] == "red"), "yes", "no")
    price = (
        2.0 * frame["size"] + 0.1 * frame["weight"] + 5.0 * (frame["color"] == "red")
    )
    return frame, pd.Series(label, name="label"), price + rng.normal(0, 0.5, n_samples)


def make_preprocessor():
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), ["size", "weight"]),
            ("category", OneHotEncoder(handle_unknown="ignore"), ["color"]),
        ]
    )


def test_pipeline_with_column_transformer_classifies_table():
    frame, label, _ = make_table()
    model = Pipeline(
        [
            ("prepare", make_preprocessor()),
            (
                "mlp",
                MLPClassifier(
                    hidden_layer_sizes=(16,),
                    learning_rate_init=0.01,
                    max_iter=150,
                    random_state=0,
                ),
            ),
        ]
    )

    model.fit(frame.iloc[:180], label.iloc[:180])

    assert model.score(frame.iloc[180:], label.iloc[180:]) > 0.85
    assert set(model.predict(frame.iloc[180:])) <= {"yes", "no"}
    assert model.predict_proba(frame.iloc[180:]).shape == (60, 2)
    assert model.named_steps["mlp"].n_features_in_ == 5


def test_pipeline_with_column_transformer_regresses_table():
    frame, _, price = make_table()
    model = Pipeline(
        [
            ("prepare", make_preprocessor()),
            (
                "mlp",
                TransformedTargetRegressor(
                    MLPRegressor(
                        hidden_layer_sizes=(16,),
                        learning_rate_init=0.01,
                        max_iter=200,
                        random_state=0,
                    ),
                    transformer=StandardScaler(),
                ),
            ),
        ]
    )

    model.fit(frame.iloc[:180], price.iloc[:180])

    assert model.score(frame.iloc[180:], price.iloc[180:]) > 0.9


def test_pipeline_passes_sample_weight_to_estimator():
    frame, label, _ = make_table()
    weights = np.where(label == "yes", 2.0, 1.0)
    settings = {
        "hidden_layer_sizes": (8,),
        "max_iter": 5,
        "random_state": 0,
        "shuffle": False,
    }
    pipeline = make_pipeline(make_preprocessor(), MLPClassifier(**settings))

    pipeline.fit(frame, label, mlpclassifier__sample_weight=weights)
    direct = MLPClassifier(**settings).fit(
        make_preprocessor().fit_transform(frame), label, sample_weight=weights
    )

    np.testing.assert_array_equal(
        pipeline[-1].network_.parameters, direct.network_.parameters
    )


def test_grid_search_picks_from_grid_and_refits():
    X, y = load_iris(return_X_y=True)
    grid = {
        "mlp__hidden_layer_sizes": [(4,), (16,)],
        "mlp__learning_rate_init": [0.001, 0.02],
    }
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", MLPClassifier(max_iter=60, random_state=0)),
        ]
    )
    search = GridSearchCV(pipeline, grid, cv=KFold(3, shuffle=True, random_state=0))

    search.fit(X, y)

    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mlp__learning_rate_init"] == 0.02
    assert search.best_score_ > 0.85
    assert search.best_estimator_.score(X, y) > 0.9


def test_cross_val_score_for_classifier_and_regressor():
    X, y = load_iris(return_X_y=True)
    folds = KFold(3, shuffle=True, random_state=0)
    classifier = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(16,),
            learning_rate_init=0.02,
            max_iter=60,
            random_state=0,
        ),
    )
    regressor = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(16,),
            learning_rate_init=0.01,
            batch_size=16,
            max_iter=100,
            random_state=0,
        ),
    )

    accuracies = cross_val_score(classifier, X, y, cv=folds)
    # Petal width from the other three measurements.
    r2_scores = cross_val_score(regressor, X[:, :3], X[:, 3], cv=folds)

    assert accuracies.shape == (3,)
    assert accuracies.min() > 0.85
    # A linear regression scores 0.90 to 0.95 on these folds.
    assert r2_scores.min() > 0.85


def test_parallel_cross_validation_returns_trainable_estimators():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=20, random_state=0, shuffle=False
    )

    # Worker processes send the fitted estimators back pickled.
    results = cross_validate(model, X, y, cv=2, n_jobs=2, return_estimator=True)
    returned = results["estimator"][0]
    before = returned.network_.parameters.copy()
    returned.partial_fit(X, y)

    assert not np.array_equal(returned.network_.parameters, before)
    for layer in returned.network_.layers:
        assert np.shares_memory(layer.weights, returned.network_.parameters)
