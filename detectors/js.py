"""Jensen-Shannon distance between histograms, and a detector on reference-quantile bins."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binned import BinnedDetector
from ._divergence_kernels import js_counts
from ._histograms import weight_pair
from .base import Score

__all__ = ["JS", "js_distance"]


def js_distance(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon distance with base-2 logarithms, in [0, 1].

    Equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.

    Parameters
    ----------
    p, q : array_like
        Non-negative counts or probabilities per bin, same length, positive totals; each is
        normalised by its own total.

    Returns
    -------
    float

    Notes
    -----
    With ``m = (p + q) / 2``,

    .. math::

        \\mathrm{JS}(p, q) = \\sqrt{\\tfrac{1}{2} \\mathrm{KL}(p \\| m)
                                  + \\tfrac{1}{2} \\mathrm{KL}(q \\| m)}

    with KL in bits. It is a metric, it is finite without smoothing (``m > 0`` wherever p or q
    is), and it reaches 1 exactly for histograms with disjoint support.

    Examples
    --------
    >>> js_distance([1, 0], [0, 1])
    1.0
    >>> round(js_distance([0.5, 0.5], [0.9, 0.1]), 4)
    0.3831
    """
    a, b = weight_pair(p, q, ("p", "q"))
    return float(js_counts(a, b))


class JS(BinnedDetector):
    """Jensen-Shannon distance of a numeric feature on bins at the reference quantiles.

    Parameters
    ----------
    reference : array_like
        1-D finite reference sample.
    n_bins : int, default 10
        Number of quantile bins (fewer with ties, see :func:`detectors.quantile_edges`).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> det = JS(rng.normal(size=5000))
    >>> det.score(rng.normal(size=2000)).statistic < 0.1
    True
    """

    name: ClassVar[str] = "js"
    __slots__ = ()

    def __init__(self, reference: ArrayLike, n_bins: int = 10) -> None:
        self._fit(reference, n_bins)

    @classmethod
    def from_counts(cls, edges: ArrayLike, reference_counts: ArrayLike) -> Self:
        """Build from stored interior edges and the reference counts on them."""
        self = cls.__new__(cls)
        self._set_bins(edges, reference_counts)
        return self

    def _score_counts(self, counts: NDArray[np.int64]) -> Score:
        value = js_counts(self._reference_counts.astype(np.float64), counts.astype(np.float64))
        return Score(float(value))
