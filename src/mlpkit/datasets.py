"""Small example datasets bundled with scikit-learn, loaded without network access."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import Any

import pandas as pd
from sklearn import datasets as sklearn_datasets

from mlpkit.errors import ParameterError

DATASET_NAMES = ("digits", "iris", "wine", "breast-cancer", "diabetes")

# name: (scikit-learn loader, target column name, whether the target contains the
# class names instead of the class indices)
_LOADERS: dict[str, tuple[Callable[..., Any], str, bool]] = {
    "digits": (sklearn_datasets.load_digits, "digit", False),
    "iris": (sklearn_datasets.load_iris, "species", True),
    "wine": (sklearn_datasets.load_wine, "cultivar", True),
    "breast-cancer": (sklearn_datasets.load_breast_cancer, "diagnosis", True),
    "diabetes": (sklearn_datasets.load_diabetes, "progression", False),
}


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Load a dataset that ships with scikit-learn as features and target.

    =============  =======  ========  =========================================
    name           samples  features  target
    =============  =======  ========  =========================================
    digits         1797     64        ``digit``: integers 0 to 9
    iris           150      4         ``species``: "setosa", "versicolor", ...
    wine           178      13        ``cultivar``: "class_0" to "class_2"
    breast-cancer  569      30        ``diagnosis``: "malignant" or "benign"
    diabetes       442      10        ``progression``: float
    =============  =======  ========  =========================================

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`.

    Returns
    -------
    features : pandas.DataFrame of shape (n_samples, n_features)
        Numeric feature columns with scikit-learn's names. The diabetes features are
        scikit-learn's default, mean-centered and scaled version.
    y : pandas.Series of shape (n_samples,)
        The target, named as in the table above.

    Raises
    ------
    ParameterError
        If ``name`` is not a known dataset. The message suggests the closest name.
    """
    if name not in _LOADERS:
        known = ", ".join(DATASET_NAMES)
        guesses = difflib.get_close_matches(name, DATASET_NAMES, n=1)
        if guesses:
            hint = f"did you mean '{guesses[0]}' (known datasets: {known})?"
        else:
            hint = f"choose one of: {known}"
        raise ParameterError(f"unknown dataset {name!r}; {hint}")

    loader, target_name, use_class_names = _LOADERS[name]
    bunch = loader(as_frame=True)
    features = bunch.data
    target = bunch.target
    if use_class_names:
        labels = bunch.target_names[target.to_numpy()]
        target = pd.Series(labels, index=target.index, dtype=str)
    return features, target.rename(target_name)


def is_dataset_name(text: str) -> bool:
    """Return whether ``text`` names a bundled dataset rather than a file.

    A path to an existing file wins, so ``iris`` means ``./iris`` if that file
    exists in the working directory.
    """
    return text in _LOADERS and not os.path.isfile(text)
