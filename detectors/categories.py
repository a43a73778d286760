"""Categorical features: a fixed domain mapped to integer codes, with a last "other" code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binning_kernels import code_counts
from ._validate import as_int_array, positive_int
from .errors import DetectorInputError, DetectorTypeError

__all__ = ["OTHER_LABEL", "CategoricalEncoder", "category_counts"]

#: Label of the last code, which collects every value outside the domain.
OTHER_LABEL = "<other>"

Category = str | int


class CategoricalEncoder:
    """Maps category values to codes ``0..K-1`` in domain order, and anything else to ``K``.

    Parameters
    ----------
    domain : sequence of str, or sequence of int
        The known categories, all strings or all integers, without duplicates.

    Attributes
    ----------
    n_categories : int
        ``len(domain) + 1``: the domain plus the "other" bin.
    labels : tuple
        ``domain`` followed by :data:`OTHER_LABEL`, indexed by code.

    Notes
    -----
    Values unseen in the domain (new categories in production) all fall in the other bin, so a
    histogram over codes always has the same length and shifts towards unseen categories show up
    as growth of its last entry. String domains match values exactly (a value that is not a
    string, such as ``None``, is "other"); integer domains accept integer arrays and integral
    floats (other floats, NaN included, are "other").

    Examples
    --------
    >>> enc = CategoricalEncoder(["red", "green", "blue"])
    >>> enc.encode(["green", "blue", "purple", "red"])
    array([1, 2, 3, 0])
    >>> enc.labels[3]
    '<other>'
    """

    __slots__ = ("_domain", "_int_codes", "_int_keys", "_str_codes")

    def __init__(self, domain: Sequence[Category]) -> None:
        items = tuple(domain)
        if not items:
            raise DetectorInputError("domain must not be empty")
        is_str = all(isinstance(v, str) for v in items)
        is_int = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items)
        if not (is_str or is_int):
            raise DetectorTypeError("domain must hold only str or only int categories")
        if len(set(items)) != len(items):
            raise DetectorInputError("domain must not contain duplicates")
        self._domain: tuple[Category, ...] = tuple(str(v) if is_str else int(v) for v in items)
        # Strings are looked up in a dict: numpy's fixed-width str arrays drop trailing NUL
        # characters, so a vectorised search would confuse "a" with "a\x00". Integers are
        # searched in a sorted array, which vectorises.
        self._str_codes: dict[Category, int] = (
            {v: code for code, v in enumerate(self._domain)} if is_str else {}
        )
        keys = np.array([] if is_str else self._domain, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self._int_keys = keys[order]
        self._int_codes = order.astype(np.int64)

    @classmethod
    def from_values(cls, values: Iterable[Category]) -> CategoricalEncoder:
        """Encoder whose domain is the sorted distinct values of a reference sample."""
        distinct = sorted(set(values))
        return cls(distinct)

    @property
    def domain(self) -> tuple[Category, ...]:
        """The known categories, in code order."""
        return self._domain

    @property
    def n_categories(self) -> int:
        """Number of codes, the other bin included."""
        return len(self._domain) + 1

    @property
    def other_code(self) -> int:
        """The code of the other bin (the last one)."""
        return len(self._domain)

    @property
    def labels(self) -> tuple[Category, ...]:
        """Label of each code: the domain, then :data:`OTHER_LABEL`."""
        return (*self._domain, OTHER_LABEL)

    def encode(self, values: ArrayLike) -> NDArray[np.int64]:
        """Codes of ``values`` (1-D); values outside the domain get :attr:`other_code`."""
        if self._str_codes:
            return self._encode_str(values)
        keys, known = self._as_int_keys(values)
        pos = np.searchsorted(self._int_keys, keys)
        np.minimum(pos, self._int_keys.size - 1, out=pos)
        hit = known & (self._int_keys[pos] == keys)
        return np.where(hit, self._int_codes[pos], self.other_code).astype(np.int64)

    def _encode_str(self, values: ArrayLike) -> NDArray[np.int64]:
        seq = values if isinstance(values, list | tuple) else np.asarray(values, dtype=object)
        if isinstance(seq, np.ndarray) and seq.ndim != 1:
            raise DetectorInputError(f"values must be 1-D, got shape {seq.shape}")
        get, other = self._str_codes.get, self.other_code
        try:
            return np.fromiter((get(v, other) for v in seq), np.int64, len(seq))
        except TypeError as exc:  # an unhashable value, such as a list
            raise DetectorTypeError(f"values must be hashable category values: {exc}") from exc

    def _as_int_keys(self, values: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Values as int64 keys, with a mask of those that can be in the domain at all."""
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise DetectorInputError(f"values must be 1-D, got shape {arr.shape}")
        if arr.dtype.kind in "iub":
            return arr.astype(np.int64), np.ones(arr.size, dtype=bool)
        if arr.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                known = np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2.0**62)
            return np.where(known, arr, 0).astype(np.int64), known
        raise DetectorTypeError(f"values must be integers for an int domain, got dtype {arr.dtype}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CategoricalEncoder):
            return NotImplemented
        return self._domain == other._domain

    def __hash__(self) -> int:
        return hash(self._domain)

    def __repr__(self) -> str:
        return f"CategoricalEncoder(domain={list(self._domain)!r})"


def category_counts(codes: ArrayLike, n_categories: int) -> NDArray[np.int64]:
    """Histogram of integer codes.

    Parameters
    ----------
    codes : array_like of int
        1-D codes in ``[0, n_categories)``, e.g. from :meth:`CategoricalEncoder.encode`. May be
        empty.
    n_categories : int
        Number of codes, the other bin included.

    Returns
    -------
    ndarray of int64, length ``n_categories``

    Raises
    ------
    DetectorInputError
        If a code is out of range.

    Examples
    --------
    >>> category_counts([0, 2, 2, 1, 2], n_categories=4)
    array([1, 1, 3, 0])
    """
    arr = as_int_array(codes, "codes", allow_empty=True)
    return count_codes(arr, positive_int(n_categories, "n_categories"))


def count_codes(codes: NDArray[np.int64], n_categories: int) -> NDArray[np.int64]:
    """``category_counts`` on an int64 array and a checked ``n_categories``."""
    counts, n_invalid = code_counts(codes, n_categories)
    if n_invalid:
        raise DetectorInputError(
            f"codes must lie in [0, {n_categories}); {n_invalid} of {codes.size} do not"
        )
    return counts
