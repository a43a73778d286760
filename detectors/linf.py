"""Chebyshev (L-infinity) distance between categorical distributions, as TFDV defines it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binned import CategoricalDetector
from ._divergence_kernels import linf_counts
from ._histograms import weight_pair
from .base import Score
from .categories import Category
from .errors import DetectorInputError

__all__ = ["LInf", "LInfResult", "linf_distance"]


@dataclass(frozen=True, slots=True)
class LInfResult:
    """L-infinity distance and the category where it is attained.

    Parameters
    ----------
    distance : float
        ``max_i |p_i - q_i|`` in [0, 1].
    index : int
        The category (code) with the largest difference; the first one on ties.
    label : str or int or None
        Its label, when labels were given.
    """

    distance: float
    index: int
    label: Category | None = None


def linf_distance(
    p_counts: ArrayLike, q_counts: ArrayLike, labels: Sequence[Category] | None = None
) -> LInfResult:
    """L-infinity (Chebyshev) distance between two categorical histograms.

    Parameters
    ----------
    p_counts, q_counts : array_like
        Non-negative counts per category, same length and category order, positive totals.
        Include an "other" entry for unseen values so they count towards the distance.
    labels : sequence, optional
        Category label per entry, copied into the result.

    Returns
    -------
    LInfResult

    Notes
    -----
    Each histogram is normalised by its own total, ``p_i = a_i / A`` and ``q_i = b_i / B``, and
    the distance is ``max_i |p_i - q_i|``, the statistic TensorFlow Data Validation compares
    against its ``infinity_norm`` threshold for categorical drift and skew.

    Examples
    --------
    >>> res = linf_distance([60, 30, 10, 0], [40, 30, 20, 10], labels=["a", "b", "c", "<other>"])
    >>> round(res.distance, 12), res.label
    (0.2, 'a')
    """
    a, b = weight_pair(p_counts, q_counts, ("p_counts", "q_counts"))
    if labels is not None and len(labels) != a.size:
        raise DetectorInputError(
            f"labels must have one entry per category ({a.size}), got {len(labels)}"
        )
    value, where = linf_counts(a, b)
    return LInfResult(float(value), int(where), None if labels is None else labels[where])


class LInf(CategoricalDetector):
    """L-infinity distance of a categorical feature's window to its reference (TFDV style).

    Parameters
    ----------
    reference_codes : array_like of int
        Reference values encoded by a :class:`detectors.CategoricalEncoder`.
    n_categories : int
        Number of codes, the other bin included.
    labels : sequence, optional
        Label per code, reported as ``worst_label``.

    Notes
    -----
    ``score`` returns the distance as ``statistic`` and the category where it is attained as
    ``worst_bin`` / ``worst_label``. TFDV raises drift when the distance exceeds the feature's
    ``infinity_norm`` threshold from the schema; sampling noise alone moves a category of
    probability p by about ``sqrt(p (1-p) / n)`` in a window of n values.

    Examples
    --------
    >>> det = LInf([0, 0, 1, 2], 4, labels=["a", "b", "c", "<other>"])
    >>> det.score([0, 1, 3, 3])
    Score(statistic=0.5, pvalue=None, worst_bin=3, worst_label='<other>')
    """

    name: ClassVar[str] = "linf"
    __slots__ = ()

    def __init__(
        self,
        reference_codes: ArrayLike,
        n_categories: int,
        *,
        labels: Sequence[Category] | None = None,
    ) -> None:
        self._fit(reference_codes, n_categories, labels)

    @classmethod
    def from_counts(
        cls, reference_counts: ArrayLike, *, labels: Sequence[Category] | None = None
    ) -> Self:
        """Build from stored reference counts per code."""
        self = cls.__new__(cls)
        self._set_counts(reference_counts, labels)
        return self

    def _score_counts(self, counts: NDArray[np.int64]) -> Score:
        value, where = linf_counts(
            self._reference_counts.astype(np.float64), counts.astype(np.float64)
        )
        return Score(float(value), worst_bin=int(where), worst_label=self._label(int(where)))
