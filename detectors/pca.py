"""PCA reconstruction error: multivariate drift that per-feature tests cannot see.

A principal-component basis fitted on reference rows keeps the directions that explain most of
the standardized variance. A row of the same distribution is reconstructed from those
components with a typical error; when the relation between features changes (a correlation
flips, one feature stops tracking another) the error of live rows grows even if every feature
keeps its own distribution. The statistic is the mean Euclidean reconstruction error of a
window's rows, in standardized units, as NannyML's data reconstruction drift defines it.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(4000, 3))
>>> x[:, 1] = x[:, 0] + 0.1 * x[:, 1]
>>> pca = PCAReconstruction.fit(x, variance=0.9)
>>> pca.components.shape
(2, 3)
>>> same = pca.score(x[:500]).statistic
>>> flipped = x[:500].copy()
>>> flipped[:, 1] = -flipped[:, 1]
>>> pca.score(flipped).statistic > 3 * same
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from .base import Score
from .errors import DetectorInputError

__all__ = ["PCAReconstruction", "reconstruction_errors"]


@dataclass(frozen=True)
class PCAReconstruction:
    """A fitted basis: standardization (``mean``, ``scale``) and ``components`` (k x d, rows
    orthonormal). ``explained`` is the share of standardized variance they keep."""

    name: ClassVar[str] = "pca"

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    explained: float

    @classmethod
    def fit(
        cls, rows: np.ndarray, variance: float = 0.65, max_components: int | None = None
    ) -> PCAReconstruction:
        """Fit on ``rows`` (n x d, finite, d >= 2): the fewest components that keep at least
        ``variance`` of the standardized variance, and never all d (their error would be 0).

        ``max_components`` caps them (embeddings: a thousand dimensions would otherwise keep
        hundreds, and scoring costs n x k x d); then fewer rows than features will do."""
        rows = _rows(rows)
        if rows.shape[1] < 2:
            raise DetectorInputError("PCA reconstruction needs at least two features")
        if max_components is not None and rows.shape[0] < 2 * max_components + 2:
            raise DetectorInputError(
                f"PCA reconstruction needs at least {2 * max_components + 2} rows"
            )
        if max_components is None and rows.shape[0] <= rows.shape[1]:
            raise DetectorInputError(
                f"PCA reconstruction needs more rows than features ({rows.shape[0]} rows, "
                f"{rows.shape[1]} features)"
            )
        if not 0.0 < variance < 1.0:
            raise DetectorInputError(f"variance must lie in (0, 1), got {variance}")
        mean = rows.mean(axis=0)
        scale = rows.std(axis=0)
        # A constant feature carries no variance: standardized it stays 0, never a division by 0.
        scale = np.where(scale > 0.0, scale, 1.0)
        z = (rows - mean) / scale
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        power = singular**2
        total = float(power.sum())
        if total <= 0.0:
            raise DetectorInputError("PCA reconstruction needs features that vary")
        share = np.cumsum(power) / total
        k = int(np.searchsorted(share, variance - 1e-12) + 1)
        k = max(1, min(k, rows.shape[1] - 1, max_components or rows.shape[1]))
        return cls(mean, scale, np.ascontiguousarray(vt[:k]), float(share[k - 1]))

    def errors(self, rows: np.ndarray) -> np.ndarray:
        """The reconstruction error of each row (rows must be finite)."""
        return reconstruction_errors(_rows(rows), self.mean, self.scale, self.components)

    def score(self, rows: np.ndarray) -> Score:
        """The mean reconstruction error of ``rows`` (n x d, finite)."""
        errors = self.errors(rows)
        if errors.size == 0:
            raise DetectorInputError("cannot score an empty window")
        return Score(float(errors.mean()))


def _rows(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if rows.ndim != 2:
        raise DetectorInputError(f"expected rows x features, got shape {rows.shape}")
    return rows


def reconstruction_errors(
    rows: np.ndarray, mean: np.ndarray, scale: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """Euclidean distance of each standardized row from its projection on ``components``."""
    if rows.shape[1] != mean.size or components.shape[1] != mean.size:
        raise DetectorInputError(f"rows have {rows.shape[1]} features, the basis {mean.size}")
    return _errors(rows, mean, scale, np.ascontiguousarray(components, dtype=np.float64))


@njit(cache=True, nogil=True)
def _errors(
    rows: np.ndarray, mean: np.ndarray, scale: np.ndarray, components: np.ndarray
) -> np.ndarray:
    n, d = rows.shape
    k = components.shape[0]
    out = np.empty(n)
    z = np.empty(d)
    for i in range(n):
        for j in range(d):
            z[j] = (rows[i, j] - mean[j]) / scale[j]
        # The residual z - C'Cz, formed explicitly: |z|^2 - |Cz|^2 cancels badly for rows the
        # components explain almost fully.
        residual = z.copy()
        for c in range(k):
            p = 0.0
            for j in range(d):
                p += components[c, j] * z[j]
            for j in range(d):
                residual[j] -= p * components[c, j]
        s = 0.0
        for j in range(d):
            s += residual[j] * residual[j]
        out[i] = np.sqrt(s)
    return out
