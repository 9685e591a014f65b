"""The ``mlpkit`` command: train, use, inspect, explain and plot models from a shell.

Each command is a short function over :class:`~mlpkit.model.MLP`. The command line
alone writes to the terminal: result tables and predictions go to stdout, progress,
warnings and errors to stderr. A usage error and an
:class:`~mlpkit.errors.MlpkitError` end the command with one line
``error: <message>`` and exit status 2. With ``--debug``, the MlpkitError's
traceback comes before that line. Messages name the options as typed (``--epochs``),
not the library arguments they set (``max_epochs``). Ctrl-C outside training
ends any command with the line ``stopped: interrupted by SIGINT (Ctrl-C)`` and
exit status 130. When the reader of stdout exits early, as ``head`` does, the
command ends quietly with exit status 0. Other exceptions are bugs and
propagate with their traceback, which Python ends with exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from ..errors import MlpkitError
from . import INTERRUPTED_LABEL, INTERRUPTED_MESSAGE
from .commands import (
    TrainingStopped,
    run_evaluate,
    run_predict,
)
from .display import (
    BrokenPipeRaisingConsole,
    LogLineHandler,
    StdoutConsole,
    discard_stdout,
    print_line,
    reported_warnings,
    stdout_failure_message,
)
from .explain_commands import run_explain
from .extra_commands import (
    run_anomalies,
    run_importance,
    run_info_command,
    run_plot_command,
    run_train_command,
)
from .option_names import error_message
from .parser import (
    EXIT_INTERRUPTED,
    EXIT_SIGNAL_BASE,
    EXIT_STDOUT_CLOSED,
    EXIT_USAGE,
    UsageError,
    build_parser,
)

Command = Callable[[argparse.Namespace, Console, Console], None]

COMMANDS: dict[str, Command] = {
    "train": run_train_command,
    "predict": run_predict,
    "evaluate": run_evaluate,
    "info": run_info_command,
    "explain": run_explain,
    "plot": run_plot_command,
    "anomalies": run_anomalies,
    "importance": run_importance,
}
"""The function that runs each command, by the name given on the command line."""

logger = logging.getLogger(__name__)


@contextmanager
def logging_to_stderr(debug: bool, err: Console) -> Iterator[None]:
    """Send mlpkit's log records to stderr inside the block, then restore the logger.

    WARNING and above are shown, or every record with ``debug``. Restoring keeps
    repeated in-process calls of :func:`run` from stacking handlers.
    """
    package_logger = logging.getLogger("mlpkit")
    previous_level = package_logger.level
    handler = LogLineHandler(err)
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    try:
        yield
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)


def run(argv: list[str] | None = None) -> int:
    """Run the ``mlpkit`` command on ``argv`` (default: sys.argv[1:]).

    Returns the exit status: 0 on success and when the reader of stdout exits
    early, 2 for usage errors and MlpkitError, 130 after Ctrl-C outside
    training, and 128 plus the signal number after SIGINT (130) or SIGTERM
    (143) stopped training.
    """
    try:
        return run_command(argv)
    except KeyboardInterrupt:
        err = BrokenPipeRaisingConsole(stderr=True)
        print_line(err, INTERRUPTED_LABEL, "bold yellow", INTERRUPTED_MESSAGE)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        discard_stdout()
        return EXIT_STDOUT_CLOSED


def run_command(argv: list[str] | None) -> int:
    """Parse ``argv`` and run its command; return the exit status.

    KeyboardInterrupt and BrokenPipeError propagate to :func:`run`.
    """
    parser = build_parser()
    err = BrokenPipeRaisingConsole(stderr=True)
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print_line(err, "error", "bold red", str(error))
        return EXIT_USAGE
    except SystemExit as exit_request:
        # argparse exits with 0 after --help and --version.
        if isinstance(exit_request.code, int):
            return exit_request.code
        return 0 if exit_request.code is None else EXIT_USAGE

    out = StdoutConsole()
    run = COMMANDS[args.command]
    try:
        with logging_to_stderr(args.debug, err), reported_warnings(err):
            run(args, out, err)
    except MlpkitError as error:
        if args.debug:
            err.print_exception()
        message = error_message(error, args.command)
        print_line(err, "error", "bold red", message)
        return EXIT_USAGE
    except TrainingStopped as stopped:
        # run_train has saved the checkpoint and the best model, and printed where.
        return EXIT_SIGNAL_BASE + stopped.signal_number
    if out.write_error is not None:
        print_line(err, "error", "bold red", stdout_failure_message(out.write_error))
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(run())
