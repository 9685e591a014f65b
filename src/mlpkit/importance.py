"""Variable importance of a trained MLP: by permutation, and from the weights.

Two measures show which input columns the model relies on:

- **Permutation importance**, computed by scikit-learn's
  ``sklearn.inspection.permutation_importance``: shuffle one raw column of
  held-out rows, so its link to the target breaks, and measure how much the
  score (accuracy, or R² for regression) drops. It needs labelled data and
  measures the effect on predictions. Columns are permuted as the raw table
  has them, so a categorical column is permuted as one column, whatever the
  number of one-hot inputs it becomes. Scored on the training rows instead of
  held-out rows, it also rewards columns the model overfits.
- **Gedeon's weight-based importance**, the measure H2O 3 reports for its
  deep learning models (``hex/deeplearning/DeepLearningModelInfo.java``, which
  cites T. D. Gedeon, "Data mining of inputs: analysing magnitude and
  functional measures", 1997). It needs no data, because it follows the
  absolute weights from each network input to the outputs, layer by layer.
  Weights say little when inputs have different scales, so it is meaningful
  on standardized inputs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from sklearn.metrics import accuracy_score, r2_score

from .data import CATEGORICAL, format_columns, with_text_column_names
from .errors import DataError, NotFittedError, ParameterError
from .model import MLP, training_feature_frame
from .network import Network
from .preprocessing import TabularPreprocessor
from .tasks import as_target_frame

DEFAULT_REPEATS = 5

#: Columns of the tables that :func:`gedeon_importance` returns, named as in H2O.
GEDEON_COLUMNS = ("variable", "relative_importance", "scaled_importance", "percentage")


@dataclass(frozen=True)
class PermutationImportance:
    """The drop in score when each raw column is permuted.

    Attributes
    ----------
    metric : {"accuracy", "r2"}
        The score: accuracy for classification, R² (averaged over outputs)
        for regression.
    baseline_score : float
        The score on the rows as given.
    columns : list of str
        The raw input columns, in training order.
    importances : ndarray of shape (n_columns, n_repeats)
        ``baseline_score`` minus the score with the column permuted, per
        repeat. Near 0 or negative: the model does not rely on the column.
    """

    metric: str
    baseline_score: float
    columns: list[str]
    importances: NDArray

    def to_frame(self) -> pd.DataFrame:
        """Return columns ``variable``, ``importance_mean`` and ``importance_std``.

        Rows are ordered from the largest mean importance down. The standard
        deviation is over the repeats, with ddof = 0 as scikit-learn computes it.
        """
        frame = pd.DataFrame(
            {
                "variable": self.columns,
                "importance_mean": self.importances.mean(axis=1),
                "importance_std": self.importances.std(axis=1),
            }
        )
        frame = frame.sort_values("importance_mean", ascending=False, kind="stable")
        return frame.reset_index(drop=True)


def permutation_importance(
    model: MLP,
    X: Any,
    y: Any,
    *,
    n_repeats: int = DEFAULT_REPEATS,
    seed: int | None = 0,
    source: str | None = None,
) -> PermutationImportance:
    """Measure how much the model's score drops when each raw column is shuffled.

    Parameters
    ----------
    model : MLP
        A trained model.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Held-out rows with at least the model's training columns; other
        columns are left out.
    y : array-like, Series or DataFrame of shape (n_samples,) or (n_samples, n_outputs)
        Their targets.
    n_repeats : int, default 5
        Shuffles per column, at least 1.
    seed : int or None, default 0
        Seeds the shuffles.
    source : str, optional
        File the data came from, named in error messages.

    Returns
    -------
    PermutationImportance

    Raises
    ------
    NotFittedError
        If the model is not trained.
    ParameterError
        If ``n_repeats`` is below 1.
    DataError
        If ``X`` lacks a training column, ``X`` and ``y`` differ in rows, or
        regression has fewer than two rows, for which R² is undefined.
    """
    _check_fitted(model)
    if isinstance(n_repeats, bool) or int(n_repeats) < 1:
        raise ParameterError(
            f"n_repeats must be at least 1; received: n_repeats={n_repeats!r}"
        )
    columns = list(model.preprocessor_.feature_names_in_)
    features = with_text_column_names(training_feature_frame(X, columns), source)
    missing = [name for name in columns if name not in features.columns]
    if missing:
        raise DataError(
            f"the data lacks the training columns {format_columns(missing)}; "
            "pass rows with every column the model was trained on"
        )
    features = features[columns].reset_index(drop=True)
    target = _raw_target(model, y)
    if len(features) != len(target):
        raise DataError(
            f"X has {len(features)} rows but y has {len(target)}; they must match"
        )
    metric = "r2" if model.task_ == "regression" else "accuracy"
    if metric == "r2" and len(target) < 2:
        raise DataError("R² needs at least two rows; pass more held-out rows")

    def score(estimator: MLP, rows: pd.DataFrame, expected: NDArray) -> float:
        predictions = estimator.predict(rows, source=source)
        if metric == "r2":
            return float(r2_score(expected, predictions))
        return float(accuracy_score(expected, predictions))

    result = sklearn_permutation_importance(
        model,
        features,
        target,
        scoring=score,
        n_repeats=int(n_repeats),
        random_state=seed,
    )
    baseline = score(model, features, target)
    return PermutationImportance(metric, baseline, columns, result.importances)


def gedeon_importance(
    model: Any, *, per: str = "column", depth: int | None = None
) -> pd.DataFrame:
    """Rank the inputs by Gedeon's weight-based importance.

    Each layer's absolute weights are normalized over the units that feed
    each unit, so ``Qⱼₖ = |Wⱼₖ| / Σⱼ′ |Wⱼ′ₖ|`` is the share of unit ``k``'s input
    that comes from unit ``j``. Chaining the layers gives the share of each
    output that comes from each network input, ``P = Q⁽¹⁾ Q⁽²⁾ ⋯ Q⁽ᴸ⁾`` of shape
    ``(n_inputs, n_outputs)``, whose columns sum to 1. The relative importance
    of input ``i`` is ``rᵢ = Σₖ Pᵢₖ``. A maxout unit's pieces are summed before
    normalizing, and biases are left out.

    Parameters
    ----------
    model : MLP or Autoencoder
        A trained model: anything with ``network_`` and ``preprocessor_``.
    per : {"column", "input"}, default "column"
        ``"column"`` sums the importance of each raw column's network inputs,
        so a categorical column's one-hot inputs count together. ``"input"``
        lists each network input, such as ``"color=red"``.
    depth : int or None, default None
        Number of weight layers to chain, from the inputs. None chains all of
        them, Gedeon's measure for the whole network. H2O 3 chains only the
        first two (``DeepLearningModelInfo.computeVariableImportances``), which
        ``depth=2`` reproduces; for one hidden layer the two agree.

    Returns
    -------
    DataFrame
        Columns ``variable``, ``relative_importance`` (``r``), ``scaled_importance``
        (``r / max r``, so the top is 1, which is what H2O reports as both its
        relative and its scaled importance) and ``percentage`` (``r / Σ r``, so
        the column sums to 1), ordered from the most important down.

    Raises
    ------
    NotFittedError
        If the model is not trained.
    ParameterError
        If ``per`` or ``depth`` is invalid.
    """
    _check_fitted(model)
    if per not in ("column", "input"):
        raise ParameterError(f"per must be 'column' or 'input'; received: per={per!r}")
    network: Network = model.network_
    preprocessor: TabularPreprocessor = model.preprocessor_
    n_layers = len(network.layers)
    if depth is None:
        depth = n_layers
    if isinstance(depth, bool) or not 1 <= int(depth) <= n_layers:
        raise ParameterError(
            f"depth must be from 1 to the network's {n_layers} weight layers; "
            f"received: depth={depth!r}"
        )

    shares = np.eye(network.layer_sizes[0])
    for layer in network.layers[: int(depth)]:
        shares = shares @ _weight_shares(layer.weights, layer.n_out, layer.pieces)
    relative = shares.sum(axis=1)

    names = list(preprocessor.feature_names_out_)
    if per == "column":
        relative, names = _sum_per_column(relative, preprocessor)
    return _importance_table(names, relative)


def _weight_shares(weights: NDArray, n_out: int, pieces: int) -> NDArray:
    """Return ``Q``: each unit's absolute incoming weights divided by their sum.

    A unit whose incoming weights are all zero gets a column of zeros.
    """
    magnitudes = np.abs(weights.astype(np.float64))
    if pieces > 1:
        # Maxout unit j owns the columns j·pieces … j·pieces + pieces − 1.
        magnitudes = magnitudes.reshape(magnitudes.shape[0], n_out, pieces).sum(axis=2)
    totals = magnitudes.sum(axis=0)
    shares = np.zeros_like(magnitudes)
    np.divide(magnitudes, totals, out=shares, where=totals > 0)
    return shares


def input_columns(preprocessor: TabularPreprocessor) -> list[str]:
    """Return the raw column of each network input, in the order of the inputs.

    The inputs are the numeric columns in training order, then one input per
    category of each categorical column, as ``feature_names_out_`` lists them.
    """
    config = preprocessor.to_config()
    numeric = []
    categorical = []
    for entry in config["columns"]:
        if entry["kind"] == CATEGORICAL:
            categorical.extend([entry["name"]] * len(entry["categories"]))
        else:
            numeric.append(entry["name"])
    return numeric + categorical


def _sum_per_column(
    relative: NDArray, preprocessor: TabularPreprocessor
) -> tuple[NDArray, list[str]]:
    """Return the summed importance of each raw column's inputs, and the columns."""
    owners = np.array(input_columns(preprocessor), dtype=object)
    names = list(preprocessor.feature_names_in_)
    sums = np.array([relative[owners == name].sum() for name in names])
    return sums, names


def _importance_table(names: list[str], relative: NDArray) -> pd.DataFrame:
    largest = relative.max()
    total = relative.sum()
    scaled = relative / largest if largest > 0 else np.zeros_like(relative)
    percentage = relative / total if total > 0 else np.zeros_like(relative)
    frame = pd.DataFrame(
        dict(zip(GEDEON_COLUMNS, (names, relative, scaled, percentage)))
    )
    frame = frame.sort_values("relative_importance", ascending=False, kind="stable")
    return frame.reset_index(drop=True)


def _check_fitted(model: Any) -> None:
    if not hasattr(model, "network_") or not hasattr(model, "preprocessor_"):
        raise NotFittedError(
            f"this {type(model).__name__} is not trained yet; call fit or load a "
            "model first"
        )


def _raw_target(model: MLP, y: Any) -> NDArray:
    """Return the target as the labels or values that ``model.predict`` returns."""
    values = as_target_frame(y).to_numpy()
    if model.task_ == "regression":
        values = values.astype(np.float64)
    return values[:, 0] if values.shape[1] == 1 else values
