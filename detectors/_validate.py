"""Input checks shared by the public functions; each message names the offending parameter."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import DetectorInputError, DetectorTypeError


def as_float_array(
    values: ArrayLike, name: str, *, allow_empty: bool = False
) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D C-contiguous float64 array, without checking for NaN.

    Callers check NaN themselves when they can do it for free (after a sort, NaN is last; the
    binning kernels count it while they pass over the data).
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise DetectorTypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise DetectorInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise DetectorInputError(f"{name} must not be empty")
    return np.ascontiguousarray(arr, dtype=np.float64)


def as_finite_sample(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return a non-empty 1-D float64 sample without NaN or inf."""
    arr = as_float_array(values, name)
    if not np.isfinite(arr).all():
        raise DetectorInputError(f"{name} must be finite (no NaN or inf)")
    return arr


def as_int_array(values: ArrayLike, name: str, *, allow_empty: bool = False) -> NDArray[np.int64]:
    """Return ``values`` as a 1-D C-contiguous int64 array (codes or counts)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biu":
        raise DetectorTypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise DetectorInputError(f"{name} must be 1-D, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise DetectorInputError(f"{name} must not be empty")
    return np.ascontiguousarray(arr, dtype=np.int64)


def as_counts(values: ArrayLike, name: str) -> NDArray[np.int64]:
    """Return a histogram as non-negative int64 counts with a positive total."""
    arr = as_int_array(values, name)
    if (arr < 0).any():
        raise DetectorInputError(f"{name} must not contain negative counts")
    if arr.sum() == 0:
        raise DetectorInputError(f"{name} must contain at least one observation")
    return arr


def positive_int(value: int, name: str, *, minimum: int = 1) -> int:
    """Check an integer parameter such as ``n_bins`` or ``n_categories``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DetectorTypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise DetectorInputError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def positive_float(value: float, name: str) -> float:
    """Check a strictly positive, finite float parameter such as ``smoothing`` or ``scale``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DetectorTypeError(f"{name} must be a number, got {type(value).__name__}")
    out = float(value)
    if not (np.isfinite(out) and out > 0.0):
        raise DetectorInputError(f"{name} must be positive and finite, got {value}")
    return out


def read_only(arr: np.ndarray) -> np.ndarray:
    """Freeze an array owned by a detector so callers cannot change its reference by accident."""
    arr.flags.writeable = False
    return arr
