"""The history of a training run: one record of losses and metrics per epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EpochRecord:
    """Losses and task metrics measured after one epoch.

    A value that was not finite is stored as None once the record has been
    through :meth:`History.to_dict`, because JSON has no NaN.
    """

    epoch: int
    train_loss: float | None
    validation_loss: float | None
    metrics: dict[str, float | None] = field(default_factory=dict)


MONITORS = ("validation_loss", "train_loss")


@dataclass
class History:
    """Per-epoch records of a training run, and how it ended.

    Attributes
    ----------
    records : list of EpochRecord
        One record per epoch, in order; ``epoch`` counts from 1.
    best_epoch : int
        The epoch whose weights the network has after training.
    converged : bool
        Whether the stopping rule ended training before ``max_epochs``.
    monitor : str
        ``"validation_loss"`` or ``"train_loss"``: what early stopping watched.
    interrupted : bool
        Whether a stop request ended training before the stopping rule did.
    """

    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    converged: bool = False
    monitor: str = "validation_loss"
    interrupted: bool = False

    @property
    def epochs(self) -> int:
        return len(self.records)

    @property
    def best(self) -> EpochRecord | None:
        return self.records[self.best_epoch - 1] if self.best_epoch else None

    def column(self, name: str) -> list[float | None]:
        """Return one value per epoch: ``train_loss``, ``validation_loss`` or a metric."""
        if name in ("train_loss", "validation_loss"):
            return [getattr(record, name) for record in self.records]
        return [record.metrics.get(name) for record in self.records]

    def to_dict(self) -> dict[str, Any]:
        """Return the history as JSON-ready data, with None for NaN and infinity."""
        records = []
        for record in self.records:
            metrics = {}
            for key, value in record.metrics.items():
                metrics[key] = _finite_or_none(value)
            records.append(
                {
                    "epoch": record.epoch,
                    "train_loss": _finite_or_none(record.train_loss),
                    "validation_loss": _finite_or_none(record.validation_loss),
                    "metrics": metrics,
                }
            )
        return {
            "records": records,
            "best_epoch": self.best_epoch,
            "converged": self.converged,
            "monitor": self.monitor,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history from :meth:`to_dict`.

        Raises TypeError or ValueError for a value of the wrong type or range,
        such as a record that is not a dict or a best epoch past the last record.
        """
        if not isinstance(data, dict):
            raise TypeError(f"the history must be a dict, not {type(data).__name__}")
        raw_records = data.get("records", [])
        if not isinstance(raw_records, list):
            raise TypeError("the history records must be a list")
        records = []
        for index, raw in enumerate(raw_records):
            records.append(_record_from_dict(raw, index + 1))

        best_epoch = data.get("best_epoch", 0)
        if not _is_int(best_epoch) or not 0 <= best_epoch <= len(records):
            raise ValueError(f"best_epoch {best_epoch!r} is not an epoch of the records")
        monitor = data.get("monitor", "validation_loss")
        if monitor not in MONITORS:
            raise ValueError(f"monitor {monitor!r} is not one of {', '.join(MONITORS)}")
        flags = {}
        for key in ("converged", "interrupted"):
            flags[key] = data.get(key, False)
            if not isinstance(flags[key], bool):
                raise TypeError(f"{key} must be true or false, not {flags[key]!r}")
        return cls(records=records, best_epoch=best_epoch, monitor=monitor, **flags)


def _record_from_dict(raw: Any, epoch: int) -> EpochRecord:
    if not isinstance(raw, dict):
        raise TypeError(f"history record {epoch} must be a dict")
    if raw.get("epoch") != epoch or not _is_int(raw.get("epoch")):
        raise ValueError(f"history record {epoch} has epoch {raw.get('epoch')!r}")
    metrics = raw.get("metrics", {})
    if not isinstance(metrics, dict):
        raise TypeError(f"the metrics of history record {epoch} must be a dict")
    values = [raw.get("train_loss"), raw.get("validation_loss"), *metrics.values()]
    for value in values:
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"history record {epoch} has the non-number {value!r}")
    return EpochRecord(
        epoch=epoch,
        train_loss=raw.get("train_loss"),
        validation_loss=raw.get("validation_loss"),
        metrics={str(key): value for key, value in metrics.items()},
    )


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
