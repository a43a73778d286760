"""Population stability index (PSI) on fixed bins, for numeric and categorical features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binned import BinnedDetector, CategoricalDetector
from ._divergence_kernels import psi_counts
from ._histograms import weight_pair
from ._validate import positive_float
from .base import Score
from .categories import Category

__all__ = ["PSI", "CategoricalPSI", "psi"]

#: Default pseudo-count added to every bin of both histograms (Jeffreys / Krichevsky-Trofimov).
DEFAULT_SMOOTHING = 0.5


def psi(
    reference_counts: ArrayLike, current_counts: ArrayLike, smoothing: float = DEFAULT_SMOOTHING
) -> float:
    """Population stability index between two histograms on the same bins.

    Parameters
    ----------
    reference_counts, current_counts : array_like
        Non-negative counts (or weights) per bin, same length, positive totals.
    smoothing : float, default 0.5
        Pseudo-count added to every bin of both histograms before normalising; must be > 0.

    Returns
    -------
    float
        PSI >= 0. Common reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 large shift.

    Notes
    -----
    With K bins, reference counts r (total R) and current counts c (total C),

    .. math::

        p_i = \\frac{r_i + \\alpha}{R + K\\alpha}, \\quad
        q_i = \\frac{c_i + \\alpha}{C + K\\alpha}, \\quad
        \\mathrm{PSI} = \\sum_i (q_i - p_i) \\ln \\frac{q_i}{p_i},

    the symmetrised Kullback-Leibler divergence ``KL(q||p) + KL(p||q)``. Without smoothing an
    empty bin makes PSI infinite; the additive (Laplace-type) pseudo-count ``alpha`` keeps it
    finite and shrinks the estimate of sparse bins towards uniform. ``alpha = 0.5`` is the
    Jeffreys prior; its effect vanishes as ``alpha * K / N`` for N values per histogram.

    Examples
    --------
    >>> round(psi([50, 50], [50, 50]), 6)
    0.0
    >>> round(psi([500, 500], [300, 700]), 4)
    0.1691
    """
    ref, cur = weight_pair(reference_counts, current_counts, ("reference_counts", "current_counts"))
    value, _ = psi_counts(ref, cur, positive_float(smoothing, "smoothing"))
    return float(value)


def _psi_score(
    reference_counts: NDArray[np.int64], counts: NDArray[np.int64], smoothing: float
) -> tuple[float, int]:
    value, worst = psi_counts(
        reference_counts.astype(np.float64), counts.astype(np.float64), smoothing
    )
    return float(value), int(worst)


class PSI(BinnedDetector):
    """PSI of a numeric feature on bins at the reference quantiles.

    Parameters
    ----------
    reference : array_like
        1-D finite reference sample.
    n_bins : int, default 10
        Number of quantile bins (fewer with ties, see :func:`detectors.quantile_edges`).
    smoothing : float, default 0.5
        Pseudo-count per bin, see :func:`psi`.

    Notes
    -----
    ``score`` returns the PSI as ``statistic`` and the bin with the largest term as
    ``worst_bin``. Windows can also be summarised with ``summary()`` and scored, after merging,
    with ``score_summary``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> det = PSI(rng.normal(size=5000))
    >>> det.score(rng.normal(size=2000)).statistic < 0.1
    True
    >>> det.score(rng.normal(1.0, size=2000)).statistic > 0.25
    True
    """

    name: ClassVar[str] = "psi"
    __slots__ = ("_smoothing",)

    def __init__(
        self, reference: ArrayLike, n_bins: int = 10, *, smoothing: float = DEFAULT_SMOOTHING
    ) -> None:
        self._smoothing = positive_float(smoothing, "smoothing")
        self._fit(reference, n_bins)

    @classmethod
    def from_counts(
        cls,
        edges: ArrayLike,
        reference_counts: ArrayLike,
        *,
        smoothing: float = DEFAULT_SMOOTHING,
    ) -> Self:
        """Build from stored interior edges and the reference counts on them."""
        self = cls.__new__(cls)
        self._smoothing = positive_float(smoothing, "smoothing")
        self._set_bins(edges, reference_counts)
        return self

    @property
    def smoothing(self) -> float:
        """Pseudo-count added to every bin."""
        return self._smoothing

    def _score_counts(self, counts: NDArray[np.int64]) -> Score:
        value, worst = _psi_score(self._reference_counts, counts, self._smoothing)
        return Score(value, worst_bin=worst)


class CategoricalPSI(CategoricalDetector):
    """PSI of a categorical feature, one bin per code (the last being "other").

    Parameters
    ----------
    reference_codes : array_like of int
        Reference values encoded by a :class:`detectors.CategoricalEncoder`.
    n_categories : int
        Number of codes, the other bin included.
    labels : sequence, optional
        Label per code, reported as ``worst_label``.
    smoothing : float, default 0.5
        Pseudo-count per bin, see :func:`psi`.

    Examples
    --------
    >>> det = CategoricalPSI([0, 0, 1, 1, 2, 2], 4, labels=["a", "b", "c", "<other>"])
    >>> s = det.score([3, 3, 3, 0])
    >>> round(s.statistic, 3), s.worst_label
    (1.783, '<other>')
    """

    name: ClassVar[str] = "psi_categorical"
    __slots__ = ("_smoothing",)

    def __init__(
        self,
        reference_codes: ArrayLike,
        n_categories: int,
        *,
        labels: Sequence[Category] | None = None,
        smoothing: float = DEFAULT_SMOOTHING,
    ) -> None:
        self._smoothing = positive_float(smoothing, "smoothing")
        self._fit(reference_codes, n_categories, labels)

    @classmethod
    def from_counts(
        cls,
        reference_counts: ArrayLike,
        *,
        labels: Sequence[Category] | None = None,
        smoothing: float = DEFAULT_SMOOTHING,
    ) -> Self:
        """Build from stored reference counts per code."""
        self = cls.__new__(cls)
        self._smoothing = positive_float(smoothing, "smoothing")
        self._set_counts(reference_counts, labels)
        return self

    @property
    def smoothing(self) -> float:
        """Pseudo-count added to every bin."""
        return self._smoothing

    def _score_counts(self, counts: NDArray[np.int64]) -> Score:
        value, worst = _psi_score(self._reference_counts, counts, self._smoothing)
        return Score(value, worst_bin=worst, worst_label=self._label(worst))
