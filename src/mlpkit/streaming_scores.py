"""Loss and task metrics of held-out blocks, accumulated one block at a time."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mlpkit.blocks import EncodedBlocks
from mlpkit.moments import RunningMoments
from mlpkit.network import Network
from mlpkit.tasks import TargetEncoder


class StreamingScores:
    """The loss and task metrics of many blocks, accumulated one block at a time.

    The result equals :func:`mlpkit.metrics.task_metrics` and the mean loss over
    all rows together: accuracy for classification, RMSE and R² (each averaged over
    outputs) for regression. R² of an output whose true values are constant is 1
    for exact predictions and 0 otherwise, as scikit-learn's ``r2_score`` sets it.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
    """

    def __init__(self, task: str) -> None:
        self.task = task
        self.n_rows = 0
        self.loss_sum = 0.0
        self.n_correct = 0
        self.squared_errors: NDArray[np.float64] | None = None
        self.target_moments: RunningMoments | None = None

    def update(self, loss: float, y_true: NDArray, y_pred: NDArray) -> None:
        """Add a block: its mean loss, true labels or values, and predictions."""
        n_rows = len(y_true)
        if n_rows == 0:
            return
        self.loss_sum += loss * n_rows
        if self.task != "regression":
            self.n_correct += int(np.sum(np.asarray(y_true) == np.asarray(y_pred)))
        else:
            self._update_regression(
                np.asarray(y_true, dtype=np.float64).reshape(n_rows, -1),
                np.asarray(y_pred, dtype=np.float64).reshape(n_rows, -1),
            )
        self.n_rows += n_rows

    def _update_regression(self, y_true: NDArray, y_pred: NDArray) -> None:
        squared_errors = ((y_true - y_pred) ** 2).sum(axis=0)
        if self.squared_errors is None:
            self.squared_errors = np.zeros(y_true.shape[1])
            self.target_moments = RunningMoments(y_true.shape[1])
        self.squared_errors += squared_errors
        self.target_moments.update(y_true)

    def result(self) -> dict[str, float]:
        """Return ``{"loss": …}`` and the task's metrics; empty before any update."""
        if self.n_rows == 0:
            return {}
        scores = {"loss": self.loss_sum / self.n_rows}
        if self.task != "regression":
            scores["accuracy"] = self.n_correct / self.n_rows
            return scores

        scores["rmse"] = float(np.sqrt(np.mean(self.squared_errors / self.n_rows)))
        if self.n_rows >= 2:
            total_squares = self.target_moments.m2
            constant = total_squares == 0
            r2 = 1.0 - self.squared_errors / np.where(constant, 1.0, total_squares)
            r2 = np.where(constant, (self.squared_errors == 0).astype(float), r2)
            scores["r2"] = float(np.mean(r2))
        return scores


def evaluate_blocks(
    network: Network,
    target_encoder: TargetEncoder,
    blocks: EncodedBlocks,
    block_indices: NDArray[np.int64],
) -> dict[str, float]:
    """Return the loss and the task's metrics of ``network`` on the given blocks.

    Metrics compare predictions with targets decoded from their encoding, so
    regression metrics carry the rounding of the network's dtype (a relative 1e-7
    of the target's scale in float32).
    """
    scores = StreamingScores(target_encoder.task_)
    for index in block_indices:
        inputs, targets = blocks.read(int(index))
        outputs = network.forward(inputs)
        loss = network.loss.value(targets, outputs)
        scores.update(
            loss, target_encoder.decode(targets), target_encoder.decode(outputs)
        )
    return scores.result()
