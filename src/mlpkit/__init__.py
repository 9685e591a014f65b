"""mlpkit: multilayer perceptrons in explicit NumPy, for tabular data."""

__version__ = "0.1.0"

from .errors import MlpkitError  # noqa: E402
from .model import MLP  # noqa: E402
from .network import Network  # noqa: E402

__all__ = ["MLP", "MlpkitError", "Network", "__version__"]
