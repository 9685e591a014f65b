"""K-fold cross-validation of MLP settings, and the final model on every row.

Cross-validation splits the rows into K folds. Each fold in turn is the test
set of a fresh :class:`~mlpkit.model.MLP` trained on the other K − 1 folds, so
every row is scored exactly once by a model that never saw it. The K test
scores estimate how a model trained with these settings does on new rows, and
their spread shows how much that estimate depends on the split. The model to
keep is then trained on all rows (:func:`fit_final_model`), because the fold
models each saw only (K − 1)/K of the data.

Classification splits with scikit-learn's ``StratifiedKFold``, so each fold
keeps the class proportions of the whole target, and regression with
``KFold``. Both shuffle the rows with a seed. Inside each fold the MLP still
holds out its ``validation_fraction`` of the training rows for early
stopping, and never touches the test fold.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import KFold, StratifiedKFold

from .errors import DataError, ParameterError
from .model import MLP, as_feature_frame
from .tasks import TargetEncoder, as_target_frame
from .training import EpochCallback

logger = logging.getLogger(__name__)

DEFAULT_FOLDS = 5

#: Minimum number of test rows per fold, so that R² (which needs two rows) is defined.
MIN_TEST_ROWS = 2


@dataclass(frozen=True)
class FoldResult:
    """The scores of one fold's model on that fold's test rows.

    Attributes
    ----------
    fold : int
        Number of the fold, counted from 1.
    train_rows, test_rows : int
        Rows the model trained on (validation rows included) and rows it was
        scored on.
    epochs : int
        Epochs the fold's training ran.
    scores : dict of str to float
        ``loss`` and the task's metrics (accuracy, or RMSE and R²) on the test
        rows, as :meth:`MLP.evaluate` returns them.
    """

    fold: int
    train_rows: int
    test_rows: int
    epochs: int
    scores: dict[str, float]


@dataclass(frozen=True)
class CrossValidationResult:
    """Per-fold scores and their mean and standard deviation.

    Attributes
    ----------
    task : {"binary", "multiclass", "regression"}
        Task inferred from the whole target, the same for every fold.
    folds : list of FoldResult
        One result per fold, in fold order.
    mean, std : dict of str to float
        Mean and population standard deviation (ddof = 0, as scikit-learn
        1.9's ``cv_results_["std_test_score"]``) of each score over the folds.
    """

    task: str
    folds: list[FoldResult]
    mean: dict[str, float]
    std: dict[str, float]

    @property
    def score_names(self) -> list[str]:
        """Names of the scores, ``loss`` first, in the order of the folds' dicts."""
        return list(self.mean)

    def to_frame(self) -> pd.DataFrame:
        """Return a row per fold, then rows ``mean`` and ``std``, a column per score."""
        rows = {str(result.fold): result.scores for result in self.folds}
        rows["mean"] = self.mean
        rows["std"] = self.std
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=self.score_names)
        frame.index.name = "fold"
        return frame


FoldCallback = Callable[[FoldResult], None]


def cross_validate(
    settings: MLP | Mapping[str, Any] | None,
    X: Any,
    y: Any,
    *,
    folds: int = DEFAULT_FOLDS,
    seed: int | None = 0,
    source: str | None = None,
    on_epoch_end: EpochCallback | None = None,
    on_fold_end: FoldCallback | None = None,
) -> CrossValidationResult:
    """Train and score one fresh MLP per fold, and return the scores with their summary.

    Parameters
    ----------
    settings : MLP, mapping or None
        The MLP settings to evaluate: an MLP (only its settings are used, it is
        not trained), keyword arguments of the MLP constructor, or None for
        the defaults.
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like, Series or DataFrame of shape (n_samples,) or (n_samples, n_outputs)
    folds : int, default 5
        Number of folds K, at least 2. Each test fold needs at least
        ``MIN_TEST_ROWS`` rows, so K is at most ``n_samples // 2``.
    seed : int or None, default 0
        Seeds the shuffling of the rows into folds. Each fold's MLP uses the
        ``seed`` of ``settings`` for its weights and validation split.
    source : str, optional
        File the data came from, named in error messages.
    on_epoch_end : callable, optional
        Passed to every fold's :meth:`MLP.fit`.
    on_fold_end : callable, optional
        Called with each :class:`FoldResult` as soon as its fold is scored.

    Returns
    -------
    CrossValidationResult

    Raises
    ------
    ParameterError
        If the settings or ``folds`` are invalid.
    DataError
        If the data are invalid, there are too few rows for ``folds``, a class
        has a single row (which one training fold would then lack), or every
        class has fewer rows than ``folds``.
    """
    model_settings = _settings_of(settings)
    features = as_feature_frame(X)
    target = as_target_frame(y)
    if len(features) != len(target):
        raise DataError(
            f"X has {len(features)} rows but y has {len(target)}; they must match"
        )
    _check_folds(folds, len(features))

    encoder = TargetEncoder(model_settings.get("task", "auto"))
    encoder.fit(target, source)
    task = encoder.task_
    splits = fold_rows(target, task, folds, seed)

    results = []
    for fold, (train_rows, test_rows) in enumerate(splits, start=1):
        model = MLP(**model_settings)
        model.fit(
            features.iloc[train_rows],
            target.iloc[train_rows],
            source=source,
            on_epoch_end=on_epoch_end,
        )
        scores = model.evaluate(
            features.iloc[test_rows], target.iloc[test_rows], source=source
        )
        result = FoldResult(
            fold, train_rows.size, test_rows.size, model.history_.epochs, scores
        )
        logger.info("fold %d of %d: %s", fold, folds, scores)
        results.append(result)
        if on_fold_end is not None:
            on_fold_end(result)

    mean, std = _summarize(results)
    return CrossValidationResult(task, results, mean, std)


def fit_final_model(
    settings: MLP | Mapping[str, Any] | None,
    X: Any,
    y: Any,
    **fit_options: Any,
) -> MLP:
    """Train a fresh MLP with ``settings`` on every row of ``(X, y)``.

    The step after :func:`cross_validate`: the same settings, trained on all the
    data. ``fit_options`` go to :meth:`MLP.fit` (``source``, ``on_epoch_end``,
    ``sample_weight`` and the others).
    """
    model = MLP(**_settings_of(settings))
    return model.fit(X, y, **fit_options)


def _settings_of(settings: MLP | Mapping[str, Any] | None) -> dict[str, Any]:
    """Return MLP constructor arguments, checked by building an MLP from them."""
    if settings is None:
        return MLP().get_settings()
    if isinstance(settings, MLP):
        return settings.get_settings()
    if not isinstance(settings, Mapping):
        raise ParameterError(
            "settings must be an MLP, a mapping of MLP arguments or None; "
            f"received: {type(settings).__name__}"
        )
    try:
        return MLP(**settings).get_settings()
    except TypeError as error:
        raise ParameterError(f"invalid MLP settings: {error}") from error


def _check_folds(folds: Any, n_samples: int) -> None:
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)):
        raise ParameterError(f"folds must be an integer; received: folds={folds!r}")
    if folds < 2:
        raise ParameterError(f"folds must be at least 2; received: folds={folds}")
    if folds * MIN_TEST_ROWS > n_samples:
        raise DataError(
            f"{folds} folds need at least {folds * MIN_TEST_ROWS} rows, "
            f"{MIN_TEST_ROWS} per test fold, but the data has {n_samples}; "
            "use fewer folds or more rows"
        )


def fold_rows(
    target: pd.DataFrame, task: str, folds: int, seed: int | None
) -> list[tuple[NDArray, NDArray]]:
    """Return the training and test row positions of each fold.

    Parameters
    ----------
    target : DataFrame of shape (n_samples, n_outputs)
        The raw target; its first column gives the classes to stratify by.
    task : {"binary", "multiclass", "regression"}
        Regression splits with ``KFold``, the others with ``StratifiedKFold``.
    folds : int
        Number of folds, from 2 to ``n_samples``.
    seed : int or None
        Seeds the shuffling of the rows.

    Raises
    ------
    DataError
        If a class has a single row, or every class has fewer rows than
        ``folds``.
    """
    rows = np.zeros(len(target))
    if task == "regression":
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(rows))

    labels = target.iloc[:, 0].astype(str).to_numpy()
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < 2:
        single = classes[np.argmin(counts)]
        raise DataError(
            f"class {single!r} has a single row, so the training folds of the fold "
            "that tests it would lack the class; add rows of it or drop it"
        )
    if counts.max() < folds:
        raise DataError(
            f"every class has fewer rows than the {folds} folds, so no fold split "
            f"keeps the class proportions; use at most {counts.max()} folds"
        )
    if counts.min() < folds:
        logger.info(
            "class %r has %d rows, fewer than the %d folds, so some test folds lack it",
            classes[np.argmin(counts)],
            counts.min(),
            folds,
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # StratifiedKFold warns about the rare class logged above.
        warnings.filterwarnings(
            "ignore", message="The least populated class", category=UserWarning
        )
        return list(splitter.split(rows, labels))


def _summarize(
    results: list[FoldResult],
) -> tuple[dict[str, float], dict[str, float]]:
    """Return the mean and the population standard deviation of each score."""
    mean = {}
    std = {}
    for name in results[0].scores:
        values = np.array([result.scores[name] for result in results])
        mean[name] = float(values.mean())
        std[name] = float(values.std())
    return mean, std
