"""Wasserstein-1 (earth mover's) distance for numeric features, raw and scale-normalised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_finite_sample, positive_float, read_only
from ._wasserstein_kernels import w1_sorted
from .base import NUMERIC, Kind, Score
from .errors import DetectorInputError

__all__ = ["Wasserstein", "WassersteinResult", "reference_scale", "wasserstein_distance"]


@dataclass(frozen=True, slots=True)
class WassersteinResult:
    """Wasserstein-1 distance of a window to the reference.

    Parameters
    ----------
    distance : float
        In the feature's units; equals ``scipy.stats.wasserstein_distance(reference, window)``.
    normalized : float
        ``distance / scale``: comparable across features.
    scale : float
        The reference scale used (see :func:`reference_scale`).
    """

    distance: float
    normalized: float
    scale: float


def wasserstein_distance(u: ArrayLike, v: ArrayLike) -> float:
    """Wasserstein-1 distance between two samples, as ``scipy.stats.wasserstein_distance(u, v)``.

    Parameters
    ----------
    u, v : array_like
        1-D finite samples, non-empty.

    Returns
    -------
    float

    Notes
    -----
    For one-dimensional samples, ``W_1 = \\int |F_u(t) - F_v(t)| dt``, the area between the two
    empirical CDFs: the average distance each unit of probability mass has to move.

    Examples
    --------
    >>> wasserstein_distance([0.0, 1.0, 3.0], [5.0, 6.0, 8.0])
    5.0
    """
    a = np.sort(as_finite_sample(u, "u"))
    b = np.sort(as_finite_sample(v, "v"))
    return float(w1_sorted(a, b))


def reference_scale(reference: ArrayLike) -> float:
    """Scale used to normalise Wasserstein distances: the IQR, else the standard deviation.

    The interquartile range (numpy's linear quantiles) is robust to outliers in the reference;
    for a reference with more than half its mass on one value the IQR is zero and the population
    standard deviation is used instead.

    Raises
    ------
    DetectorInputError
        If both are zero (a constant reference has no scale; pass ``scale=`` explicitly).

    Examples
    --------
    >>> reference_scale([1.0, 2.0, 3.0, 4.0, 5.0])
    2.0
    """
    ref = as_finite_sample(reference, "reference")
    q1, q3 = np.quantile(ref, [0.25, 0.75])
    iqr = float(q3 - q1)
    if iqr > 0.0:
        return iqr
    std = float(ref.std())
    if std > 0.0:
        return std
    raise DetectorInputError("reference is constant, so it has no scale; pass scale explicitly")


class Wasserstein:
    """Wasserstein-1 detector for a numeric feature; the reference is sorted once.

    Parameters
    ----------
    reference : array_like
        1-D finite reference sample.
    scale : float, optional
        Divisor for the normalised distance; by default :func:`reference_scale` of the
        reference (IQR, else standard deviation).

    Notes
    -----
    ``score`` reports the normalised distance, so one threshold can serve features measured in
    different units: a mean shift of one IQR gives about 1.

    Examples
    --------
    >>> det = Wasserstein([0.0, 1.0, 2.0, 3.0, 4.0])
    >>> det.test([1.0, 2.0, 3.0, 4.0, 5.0])
    WassersteinResult(distance=1.0, normalized=0.5, scale=2.0)
    """

    name: ClassVar[str] = "wasserstein"
    kind: ClassVar[Kind] = NUMERIC
    __slots__ = ("_reference", "_scale")

    def __init__(self, reference: ArrayLike, *, scale: float | None = None) -> None:
        ref = np.sort(as_finite_sample(reference, "reference"))
        self._scale = reference_scale(ref) if scale is None else positive_float(scale, "scale")
        self._reference = read_only(ref)

    @property
    def reference(self) -> NDArray[np.float64]:
        """The sorted reference sample (read-only)."""
        return self._reference

    @property
    def scale(self) -> float:
        """Divisor of the normalised distance."""
        return self._scale

    def test(self, window: ArrayLike) -> WassersteinResult:
        """Raw and normalised distance of ``window`` (1-D, finite, non-empty) to the reference."""
        win = np.sort(as_finite_sample(window, "window"))
        raw = float(w1_sorted(self._reference, win))
        return WassersteinResult(raw, raw / self._scale, self._scale)

    def score(self, window: np.ndarray) -> Score:
        """``Score`` whose statistic is the normalised distance."""
        return Score(self.test(window).normalized)

    def __repr__(self) -> str:
        return f"Wasserstein(n={self._reference.size}, scale={self._scale:g})"
