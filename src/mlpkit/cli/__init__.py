"""The ``mlpkit`` command line.

The console script imports this module and calls :func:`main`, so the module
imports nothing heavy: NumPy, pandas, scikit-learn and rich load inside
:func:`main`. Ctrl-C during that import prints the same line as Ctrl-C
anywhere else outside training.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C: 128 plus SIGINT (2), as shells report it."""

INTERRUPTED_LABEL = "stopped"
INTERRUPTED_MESSAGE = "interrupted by SIGINT (Ctrl-C)"
"""The line ``stopped: …`` that every command prints when Ctrl-C ends it.

Inside training, the first Ctrl-C prints a line of its own instead, because
training stops after the batch and saves the best model."""


def main(argv: list[str] | None = None) -> int:
    """Run the ``mlpkit`` command on ``argv`` (default: sys.argv[1:]).

    Returns the exit status, as :func:`mlpkit.cli.program.run` describes it, or
    130 without a traceback if Ctrl-C interrupts the import of the command.
    """
    try:
        from .program import run
    except KeyboardInterrupt:
        # rich is not loaded yet, so the line is written without its styling.
        sys.stderr.write(f"{INTERRUPTED_LABEL}: {INTERRUPTED_MESSAGE}\n")
        return EXIT_INTERRUPTED
    return run(argv)


__all__ = ["main"]
