"""Tables and lines that the ``mlpkit`` command prints, built with rich."""

from __future__ import annotations

import errno
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..errors import IgnoredSettingWarning, MlpkitError
from ..metrics import METRIC_LABELS
from ..modelfile import os_error_reason
from ..model import MLP
from ..preprocessing import NUMERIC, TabularPreprocessor
from ..settings import CHOICE_DEPENDENT_SETTINGS, LBFGS, ignored_optimizer_settings
from ..training import EpochCallback, EpochRecord
from .option_names import NO_HIDDEN_LAYERS, SETTING_OPTIONS, rewrite_setting_names

logger = logging.getLogger(__name__)


class BrokenPipeRaisingConsole(Console):
    """A rich Console that raises BrokenPipeError when the reader of its stream exits.

    rich's own handling (in rich 15) redirects stdout to ``os.devnull`` and exits
    with status 1 at once. Raising instead lets the command line end the
    command quietly, which suits stderr, where nothing else is left to report.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


class StdoutConsole(Console):
    """The rich Console of stdout, whose failures end only the printed text.

    The command goes on and writes its files: ``train ... | head -1`` still
    saves the model. A closed stdout (``>&-``) discards the text. Any other
    failure to write, such as a full disk, is kept in :attr:`write_error`, so
    that the command line can report it once the command has finished.
    """

    def __init__(self) -> None:
        self._writer = _StdoutWriter()
        super().__init__(file=self._writer)

    @property
    def write_error(self) -> OSError | None:
        """The first OSError of a write to stdout other than a broken pipe, if any."""
        return self._writer.error

    def on_broken_pipe(self) -> None:
        self.quiet = True
        discard_stdout()


class _StdoutWriter:
    """A file for rich that writes to the current ``sys.stdout``.

    After the first failed write it keeps the error and discards everything,
    and it writes nothing while stdout is closed.
    """

    def __init__(self) -> None:
        self.error: OSError | None = None

    def write(self, text: str) -> int:
        if sys.stdout is None or self.error is not None:
            return len(text)
        try:
            return sys.stdout.write(text)
        except BrokenPipeError:
            raise
        except OSError as error:
            self._fail(error)
            return len(text)

    def flush(self) -> None:
        if sys.stdout is None or self.error is not None:
            return
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        self.error = error
        # Text still in Python's buffer would fail again in the flush at exit.
        discard_stdout()

    def isatty(self) -> bool:
        return sys.stdout is not None and sys.stdout.isatty()

    def fileno(self) -> int:
        if sys.stdout is None:
            raise OSError(errno.EBADF, "standard output is closed")
        return sys.stdout.fileno()


def stdout_failure_message(error: OSError) -> str:
    """Return the error line for a failed write of the text a command prints."""
    return (
        f"writing to standard output failed ({os_error_reason(error)}); the "
        "command finished and wrote any output files, but its printed results "
        "are lost; free space on the device of standard output, or redirect it"
    )


@contextmanager
def translate_stdout_errors() -> Iterator[None]:
    """Turn an OSError of a stdout write, except a broken pipe, into MlpkitError."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as error:
        raise MlpkitError(
            f"writing to standard output failed ({os_error_reason(error)}); free "
            "space on its device, or pass --output with a file path where the "
            "command takes one"
        ) from error


def write_stdout(text: str) -> None:
    """Write ``text``, the data a command outputs, to stdout and flush it.

    Flushing here makes a closed pipe raise BrokenPipeError inside the
    command, where :func:`mlpkit.cli.program.run` ends it quietly, rather than
    in Python's flush at exit, which prints "Exception ignored" and exits 120.

    Raises
    ------
    MlpkitError
        If stdout is closed or the write fails for another reason.
    """
    if sys.stdout is None:
        raise MlpkitError(
            "standard output is closed; pass --output with a file path, or run the "
            "command with its output open"
        )
    with translate_stdout_errors():
        sys.stdout.write(text)
        sys.stdout.flush()


def discard_stdout() -> None:
    """Point the file descriptor of stdout at ``os.devnull``.

    Python flushes stdout at exit. After the reader has gone, the flush of any
    text still buffered would fail and print "Exception ignored" to stderr.
    A stdout without a file descriptor, as under pytest's capture, is left as
    it is.
    """
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)


def print_text(console: Console, text: str | Text) -> None:
    """Print ``text`` without markup, highlighting or wrapping at the console width."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def print_line(console: Console, label: str, style: str, message: str) -> None:
    """Print ``label: message`` as one line, with the label styled."""
    print_text(console, Text.assemble((f"{label}: ", style), message))


class LogLineHandler(logging.Handler):
    """Print each log record as one ``level: message`` line, like the warnings.

    A traceback attached to a record follows on the lines after it.
    """

    STYLES = {"warning": "bold yellow", "error": "bold red", "critical": "bold red"}

    def __init__(self, console: Console):
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            label = record.levelname.lower()
            message = record.getMessage().replace("\n", " ")
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            print_line(self.console, label, self.STYLES.get(label, "dim"), message)
        except Exception:  # logging expects handlers to call handleError.
            self.handleError(record)


@contextmanager
def reported_warnings(err: Console) -> Iterator[None]:
    """Collect the warnings raised inside the block and print each once, as one line.

    mlpkit's own warnings print their message alone. Others add their category.
    Setting names such as ``max_epochs=3`` are shown as the options that set
    them (``--epochs=3``). IgnoredSettingWarning is left out, because ``train``
    warns about each ignored option given on the command line itself, and
    every setting reaches MLP from an option, defaults included. When the
    block raises MlpkitError, nothing is printed, so that the error is the only
    line.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except MlpkitError:
            # The error line is then the one line that bad input gets.
            caught.clear()
            raise
        finally:
            printed: set[str] = set()
            for warning in caught:
                if issubclass(warning.category, IgnoredSettingWarning):
                    continue
                message = rewrite_setting_names(str(warning.message))
                if not warning.category.__module__.startswith("mlpkit"):
                    message += f" ({warning.category.__name__})"
                if message not in printed:
                    printed.add(message)
                    print_line(err, "warning", "bold yellow", message)


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def format_number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}"


def format_record(record: EpochRecord) -> str:
    """Describe one epoch: its losses and metrics."""
    parts = [f"train loss {format_number(record.train_loss)}"]
    if record.validation_loss is not None:
        parts.append(f"validation loss {format_number(record.validation_loss)}")
    for key, value in record.metrics.items():
        parts.append(f"{METRIC_LABELS.get(key, key)} {format_number(value)}")
    return ", ".join(parts)


@contextmanager
def epoch_progress(
    err: Console, max_epochs: int, enabled: bool
) -> Iterator[EpochCallback | None]:
    """Show a progress bar on stderr and yield the callback that advances it."""
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("epoch {task.completed:.0f}/{task.total:.0f}"),
        BarColumn(),
        TextColumn("{task.fields[record]}", markup=False),
        TimeElapsedColumn(),
        console=err,
    )
    with progress:
        task_id = progress.add_task("training", total=max_epochs, record="")

        def on_epoch_end(record: EpochRecord) -> None:
            progress.update(
                task_id, completed=record.epoch, record=format_record(record)
            )

        yield on_epoch_end


def metric_rows(scores: dict[str, float], loss_name: str) -> list[tuple[str, str]]:
    """Return (label, value) rows for a loss and metrics dict from MLP.evaluate."""
    rows = []
    for key, value in scores.items():
        label = f"loss ({loss_name})" if key == "loss" else METRIC_LABELS.get(key, key)
        rows.append((label, format_number(value)))
    return rows


def training_table(
    model: MLP, test_scores: dict[str, float] | None, n_test: int
) -> Table:
    """Tabulate the test metrics and the best epoch's monitored metrics."""
    history = model.history_
    loss_name = model.network_.loss.name.replace("_", " ")
    table = Table(title="held-out metrics")
    table.add_column("metric")
    columns: list[dict[str, str]] = []
    if test_scores is not None:
        table.add_column(f"test ({n_test} rows)", justify="right")
        columns.append(dict(metric_rows(test_scores, loss_name)))

    best = history.best
    if best is not None:
        loss = best.validation_loss
        if loss is None:
            loss = best.train_loss
        monitored = {"loss": loss, **best.metrics}
        where = "validation" if history.monitor == "validation_loss" else "training"
        table.add_column(f"{where} (epoch {best.epoch})", justify="right")
        columns.append(dict(metric_rows(monitored, loss_name)))

    labels: list[str] = []
    for column in columns:
        labels.extend(label for label in column if label not in labels)
    for label in labels:
        table.add_row(label, *(column.get(label, "–") for column in columns))
    return table


def best_epoch_text(model: MLP) -> str:
    """Describe which epoch's weights the model kept, as ``best epoch: B of N``."""
    history = model.history_
    text = f"best epoch: {history.best_epoch} of {history.epochs}"
    if model.optimizer == LBFGS:
        text += " (L-BFGS keeps the weights of its last iteration)"
    return text


def convergence_text(model: MLP) -> str:
    history = model.history_
    if model.optimizer == LBFGS and history.converged:
        return (
            f"yes, L-BFGS met its convergence tolerance after {history.epochs} "
            "iterations"
        )
    if history.converged:
        monitored = history.monitor.replace("_", " ")
        return f"yes, the {monitored} stopped improving after {history.epochs} epochs"
    if history.interrupted:
        return f"no, Ctrl-C or SIGTERM stopped training after {history.epochs} epochs"
    if model.optimizer == LBFGS:
        return (
            f"no, L-BFGS stopped after {history.epochs} iterations without meeting "
            "its tolerance, at --epochs or its cap on loss evaluations"
        )
    return f"no, training reached the maximum of {model.max_epochs} epochs"


def layers_table(model: MLP) -> Table:
    network = model.network_
    table = Table(title="layers")
    table.add_column("layer")
    table.add_column("units", justify="right")
    table.add_column("activation")
    table.add_column("parameters", justify="right")
    table.add_row("input", str(network.layer_sizes[0]), "–", "–")
    last = len(network.layers) - 1
    for index, layer in enumerate(network.layers):
        name = "output" if index == last else f"hidden {index + 1}"
        table.add_row(
            name,
            str(layer.n_out),
            layer.activation.name,
            f"{layer.parameter_count:,}",
        )
    table.add_section()
    table.add_row("total", "", "", f"{network.n_parameters:,}")
    return table


def preprocessing_table(preprocessor: TabularPreprocessor) -> Table:
    table = Table(title=f"input columns (standardize={preprocessor.standardize})")
    for name in ("column", "kind", "missing in training", "summary"):
        table.add_column(name)
    for entry in preprocessor.describe():
        if entry["kind"] == NUMERIC:
            mean = format_number(entry["mean"])
            summary = f"mean {mean}, std {format_number(entry['std'])}"
        else:
            summary = (
                f"{entry['n_categories']} categories, most frequent "
                f"{entry['most_frequent']!r}"
            )
        table.add_row(entry["name"], entry["kind"], str(entry["n_missing"]), summary)
    return table


def setting_text(value: Any) -> str:
    """Return a setting's value as ``train`` takes it: ``64,32`` for ``(64, 32)``."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value) or NO_HIDDEN_LAYERS
    return str(value)


def settings_table(model: MLP) -> Table:
    """Tabulate each setting with the ``train`` option that sets it, and its value.

    A setting left to the optimizer shows the optimizer's value, and a setting
    the optimizer ignores is marked "not used by" the optimizer. The regression
    loss is marked "not used by" a classification task, whose loss is a
    cross-entropy that follows from the task. A setting of a schedule, loss or
    activation other than the chosen one is marked "not used by" that choice.
    """
    table = Table(title="training settings")
    table.add_column("setting")
    table.add_column("option")
    table.add_column("value")
    settings = model.get_settings()
    # An autoencoder has no task_.
    task = getattr(model, "task_", None)
    ignored = set(ignored_optimizer_settings(model.optimizer, list(settings)))
    in_use = {}
    if model.optimizer != LBFGS:
        in_use = model.make_optimizer().get_config()
    for name, value in settings.items():
        text = setting_text(value)
        if value is None and isinstance(in_use.get(name), float):
            text = f"{in_use[name]:g} ({model.optimizer}'s default)"
        elif name in ignored:
            text += f" (not used by {model.optimizer})"
        elif name == "loss" and task not in (None, "regression"):
            text += f" (not used by {task} classification)"
        else:
            text += _unused_choice_text(name, settings)
        table.add_row(name, SETTING_OPTIONS.get(name, "–"), text)
    return table


def _unused_choice_text(name: str, settings: dict[str, Any]) -> str:
    """Return " (not used by VALUE)" if the chosen VALUE ignores setting ``name``.

    The conditions are those of :data:`mlpkit.settings.CHOICE_DEPENDENT_SETTINGS`,
    which ``train`` and ``MLP.fit`` also warn about.
    """
    if name not in CHOICE_DEPENDENT_SETTINGS:
        return ""
    controller, values = CHOICE_DEPENDENT_SETTINGS[name]
    chosen = settings.get(controller)
    if chosen is None or chosen in values:
        return ""
    return f" (not used by {chosen})"


def task_text(model: MLP) -> str:
    """Describe the task, its target columns and, for classification, the classes."""
    names = model.target_encoder_.target_names_
    noun = "column" if len(names) == 1 else "columns"
    text = f"{model.task_}, target {noun} {', '.join(names)}"
    if model.classes_ is not None:
        classes = ", ".join(str(label) for label in model.classes_)
        text += f", {len(model.classes_)} classes: {classes}"
    return text


def history_text(model: MLP) -> list[str]:
    history = model.history_
    lines = [f"epochs run: {history.epochs} of at most {model.max_epochs}"]
    if history.best is not None:
        lines.append(
            f"best epoch: {history.best.epoch} ({format_record(history.best)})"
        )
    lines.append(f"converged: {convergence_text(model)}")
    return lines


# Commands
