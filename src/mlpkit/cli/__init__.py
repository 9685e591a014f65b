"""The ``mlpkit`` command line.

The console script imports this module and calls :func:`main`, so the module
imports nothing heavy: NumPy, pandas, scikit-learn and rich load inside
:func:`main`, where Ctrl-C during the import ends the command quietly.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C: 128 plus SIGINT (2), as shells report it."""


def main(argv: list[str] | None = None) -> int:
    """Run the ``mlpkit`` command on ``argv`` (default: sys.argv[1:]).

    Returns the exit status, as :func:`mlpkit.cli.program.run` describes it, or
    130 without a traceback if Ctrl-C interrupts the import of the command.
    """
    try:
        from .program import run
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return EXIT_INTERRUPTED
    return run(argv)


__all__ = ["main"]
