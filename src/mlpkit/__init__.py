"""mlpkit: multilayer perceptrons in explicit NumPy, for tabular data."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .errors import MlpkitError
    from .model import MLP
    from .network import Network

# The names below load on first use, so that importing a submodule such as
# mlpkit.cli does not import NumPy, pandas and scikit-learn first.
_LAZY_NAMES = {"MLP": ".model", "MlpkitError": ".errors", "Network": ".network"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY_NAMES[name], __name__), name)
    globals()[name] = value
    return value


__all__ = ["MLP", "MlpkitError", "Network", "__version__"]
