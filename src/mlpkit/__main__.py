"""Run the command line as ``python -m mlpkit``."""

import sys

from .cli import main

sys.exit(main())
