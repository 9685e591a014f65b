"""The metrics reported for each task, computed with scikit-learn.

Classification reports accuracy; regression reports the root mean squared
error (RMSE, in the target's units, averaged over outputs) and the coefficient
of determination R² (averaged over outputs).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score

METRIC_LABELS = {"accuracy": "accuracy", "rmse": "RMSE", "r2": "R²"}


def task_metrics(task: str, y_true: NDArray, y_pred: NDArray) -> dict[str, float]:
    """Return the task's metrics for labels or values ``y_pred`` against ``y_true``."""
    if task == "regression":
        mse = mean_squared_error(y_true, y_pred)
        metrics = {"rmse": float(np.sqrt(mse))}
        if len(y_true) >= 2:
            metrics["r2"] = float(r2_score(y_true, y_pred))
        return metrics
    return {"accuracy": float(accuracy_score(y_true, y_pred))}
