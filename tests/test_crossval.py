"""K-fold cross-validation of MLP settings and the final model on all rows."""

import warnings

import numpy as np
import pandas as pd
import pytest

from mlpkit import MLP
from mlpkit.crossval import (
    CrossValidationResult,
    cross_validate,
    fit_final_model,
    fold_rows,
)
from mlpkit.errors import ConvergenceWarning, DataError, ParameterError

QUICK_SETTINGS = {"hidden_layers": (8,), "learning_rate": 0.01, "max_epochs": 20}
TRAINED_SETTINGS = {**QUICK_SETTINGS, "max_epochs": 80}


def make_classification(n_samples=120, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n_samples), "color": rng.choice(["a", "b"], n_samples)}
    )
    # Classes of 3 : 1, so that stratification has something to keep.
    label = np.where(frame["x"] > 0.67, "rare", "common")
    return frame, pd.Series(label, name="label")


def make_regression(n_samples=100, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n_samples)})
    target = 2.0 * frame["x"] + 0.1 * rng.normal(size=n_samples)
    return frame, target.rename("y")


def cross_validate_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cross_validate(*args, **kwargs)


def test_classification_reports_every_fold():
    frame, label = make_classification()

    result = cross_validate_quietly(QUICK_SETTINGS, frame, label, folds=4)

    assert isinstance(result, CrossValidationResult)
    assert result.task == "binary"
    assert [fold.fold for fold in result.folds] == [1, 2, 3, 4]
    assert sum(fold.test_rows for fold in result.folds) == len(frame)
    assert result.score_names == ["loss", "accuracy"]


def test_summary_is_mean_and_population_std():
    frame, label = make_classification()

    result = cross_validate_quietly(QUICK_SETTINGS, frame, label, folds=3)

    accuracies = np.array([fold.scores["accuracy"] for fold in result.folds])
    assert result.mean["accuracy"] == pytest.approx(accuracies.mean())
    assert result.std["accuracy"] == pytest.approx(accuracies.std(ddof=0))


def test_classification_folds_learn_the_rule():
    frame, label = make_classification()

    result = cross_validate_quietly(TRAINED_SETTINGS, frame, label, folds=3)

    assert result.mean["accuracy"] > 0.85


def test_regression_reports_rmse_and_r2():
    frame, target = make_regression()

    result = cross_validate_quietly(TRAINED_SETTINGS, frame, target, folds=3)

    assert result.task == "regression"
    assert result.score_names == ["loss", "rmse", "r2"]
    assert result.mean["r2"] > 0.8


def test_to_frame_has_folds_then_mean_and_std():
    frame, target = make_regression()

    result = cross_validate_quietly(QUICK_SETTINGS, frame, target, folds=3)
    table = result.to_frame()

    assert list(table.index) == ["1", "2", "3", "mean", "std"]
    assert list(table.columns) == ["loss", "rmse", "r2"]
    assert table.loc["mean", "r2"] == result.mean["r2"]


def test_settings_may_be_an_mlp():
    frame, target = make_regression()

    from_mlp = cross_validate_quietly(MLP(**QUICK_SETTINGS), frame, target, folds=2)
    from_dict = cross_validate_quietly(QUICK_SETTINGS, frame, target, folds=2)

    assert from_mlp.mean == from_dict.mean


def test_same_seed_gives_same_scores():
    frame, label = make_classification()

    first = cross_validate_quietly(QUICK_SETTINGS, frame, label, folds=3, seed=5)
    second = cross_validate_quietly(QUICK_SETTINGS, frame, label, folds=3, seed=5)

    assert first.mean == second.mean


def test_on_fold_end_receives_each_fold():
    frame, target = make_regression()
    received = []

    cross_validate_quietly(
        QUICK_SETTINGS, frame, target, folds=3, on_fold_end=received.append
    )

    assert [fold.fold for fold in received] == [1, 2, 3]


def test_classification_folds_are_stratified():
    _, label = make_classification(n_samples=120)
    target = label.to_frame()

    splits = fold_rows(target, "binary", folds=4, seed=0)

    rare_share = (label == "rare").mean()
    for _, test_rows in splits:
        rare_count = (label.iloc[test_rows] == "rare").sum()
        assert abs(rare_count - rare_share * test_rows.size) <= 1


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_folds_partition_the_rows(task):
    frame, label = make_classification(n_samples=50)
    target = label.to_frame() if task == "binary" else frame[["x"]]

    splits = fold_rows(target, task, folds=5, seed=0)
    test_rows = np.concatenate([test for _, test in splits])

    assert sorted(test_rows) == list(range(50))
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0


def test_seed_changes_the_folds():
    frame, _ = make_regression()

    first = fold_rows(frame, "regression", folds=3, seed=0)
    second = fold_rows(frame, "regression", folds=3, seed=1)

    assert not np.array_equal(first[0][1], second[0][1])


@pytest.mark.parametrize("folds", [1, 0, -3, 2.5, True])
def test_invalid_folds_raise(folds):
    frame, target = make_regression()

    with pytest.raises(ParameterError, match="folds"):
        cross_validate(QUICK_SETTINGS, frame, target, folds=folds)


def test_too_few_rows_for_folds_raise():
    frame, target = make_regression(n_samples=9)

    with pytest.raises(DataError, match="5 folds need at least 10 rows"):
        cross_validate(QUICK_SETTINGS, frame, target, folds=5)


def test_class_with_single_row_raises():
    frame, label = make_classification(n_samples=40)
    label.iloc[0] = "lonely"

    with pytest.raises(DataError, match="'lonely' has a single row"):
        cross_validate(QUICK_SETTINGS, frame, label, folds=2)


def test_more_folds_than_rows_per_class_raise():
    frame = pd.DataFrame({"x": np.arange(30.0)})
    label = pd.Series(np.repeat(list("abcdefghij"), 3))

    with pytest.raises(DataError, match="use at most 3 folds"):
        cross_validate(QUICK_SETTINGS, frame, label, folds=5)


def test_mismatched_rows_raise():
    frame, target = make_regression()

    with pytest.raises(DataError, match="must match"):
        cross_validate(QUICK_SETTINGS, frame, target.iloc[:-1], folds=2)


def test_unknown_setting_raises():
    frame, target = make_regression()

    with pytest.raises(ParameterError, match="invalid MLP settings"):
        cross_validate({"hidden_units": (4,)}, frame, target, folds=2)


def test_invalid_setting_value_raises():
    frame, target = make_regression()

    with pytest.raises(ParameterError, match="validation_fraction"):
        cross_validate({"validation_fraction": 2.0}, frame, target, folds=2)


def test_fit_final_model_trains_on_all_rows():
    frame, target = make_regression()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = fit_final_model(TRAINED_SETTINGS, frame, target)

    assert model.task_ == "regression"
    assert model.hidden_layers == (8,)
    assert model.evaluate(frame, target)["r2"] > 0.8
