"""Validation shared by the public functions that compare two histograms."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_float_array
from .errors import DetectorInputError


def weight_pair(
    p: ArrayLike, q: ArrayLike, names: tuple[str, str]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two equally long, non-negative, finite weight vectors with positive totals, as float64."""
    a = as_float_array(p, names[0])
    b = as_float_array(q, names[1])
    if a.size != b.size:
        raise DetectorInputError(
            f"{names[0]} and {names[1]} must have the same length, got {a.size} and {b.size}"
        )
    for arr, name in ((a, names[0]), (b, names[1])):
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise DetectorInputError(f"{name} must be finite and non-negative")
        if arr.sum() <= 0:
            raise DetectorInputError(f"{name} must have a positive total")
    return a, b
