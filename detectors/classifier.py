"""Classifier two-sample test: can a small model tell a window's rows from the reference's?

Half of the window's rows and half of the reference sample train a logistic regression on the
whitened principal-component scores, their squares and pairwise products (so a changed
correlation or spread is learnable, not only a shifted mean); the other halves are scored and
the statistic is the AUC of those held-out scores, window against reference. Rows the model
never saw are exchangeable under "no drift" whatever the model learnt, so the held-out AUC is a
Mann-Whitney statistic with a known null (``auc_quantile``): the limit needs no simulation.

The split is seeded from the window's own bytes, so the same window gets the same verdict
however its events were batched, and after a restart.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> reference = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=4000)
>>> test = ClassifierTwoSample(reference)
>>> calm = test.score(rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=1000))
>>> flipped = test.score(rng.multivariate_normal([0, 0], [[1, -0.8], [-0.8, 1]], size=1000))
>>> bool(calm.statistic < auc_quantile(500, test.held_out, 1e-3) < flipped.statistic)
True
"""

from __future__ import annotations

import math
import zlib
from typing import ClassVar

import numpy as np
from scipy.special import expit, ndtri
from scipy.stats import rankdata

from .base import Score
from .errors import DetectorInputError

__all__ = ["ClassifierTwoSample", "auc_quantile"]

MAX_COMPONENTS = 10  # quadratic terms grow as q^2: 10 components give 65 inputs
NEWTON_STEPS = 12
RIDGE = 1e-2  # per training row: keeps the Hessian invertible on collinear inputs


class ClassifierTwoSample:
    """Held-out AUC of a logistic regression telling window rows from reference rows."""

    name: ClassVar[str] = "classifier"

    def __init__(self, reference: np.ndarray) -> None:
        reference = np.ascontiguousarray(reference, dtype=np.float64)
        if reference.ndim != 2 or reference.shape[1] < 1:
            raise DetectorInputError(f"expected rows x features, got shape {reference.shape}")
        if reference.shape[0] < 20:
            raise DetectorInputError("the classifier test needs at least 20 reference rows")
        if not np.all(np.isfinite(reference)):
            raise DetectorInputError("reference rows must be finite")
        self.mean = reference.mean(axis=0)
        scale = reference.std(axis=0)
        self.scale = np.where(scale > 0.0, scale, 1.0)
        z = (reference - self.mean) / self.scale
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        keep = min(MAX_COMPONENTS, int(np.sum(singular > 1e-9 * singular[0])))
        sd = singular[:keep] / math.sqrt(reference.shape[0])
        self.rotation = vt[:keep].T / sd  # whitened scores: unit variance on the reference
        # A fixed half of the reference trains, the other half is scored: the halves never mix.
        order = np.random.default_rng(0).permutation(reference.shape[0])
        half = reference.shape[0] // 2
        inputs = self._inputs(reference)
        self._train = inputs[order[:half]]
        self._test = inputs[order[half:]]
        self.held_out = int(self._test.shape[0])

    def _inputs(self, rows: np.ndarray) -> np.ndarray:
        s = ((rows - self.mean) / self.scale) @ self.rotation
        i, j = np.triu_indices(s.shape[1])
        return np.hstack([s, s[:, i] * s[:, j] / math.sqrt(2.0)])

    def score(self, rows: np.ndarray) -> Score:
        """The held-out AUC of ``rows`` (n x d, finite, n >= 4) against the reference."""
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.mean.size:
            raise DetectorInputError(
                f"expected rows x {self.mean.size} features, got shape {rows.shape}"
            )
        if rows.shape[0] < 4:
            raise DetectorInputError("the classifier test needs at least 4 rows in a window")
        inputs = self._inputs(rows)
        rng = np.random.default_rng(zlib.crc32(rows.tobytes()))
        order = rng.permutation(rows.shape[0])
        half = rows.shape[0] // 2
        train, test = inputs[order[:half]], inputs[order[half:]]
        weights = _fit(train, self._train)
        scores = np.concatenate([test @ weights[1:], self._test @ weights[1:]])
        auc = _auc(scores, test.shape[0])
        return Score(auc, pvalue=_auc_sf(auc, test.shape[0], self.held_out))

    def window_held_out(self, n: int) -> int:
        """How many of a window of ``n`` rows are scored (the rest train)."""
        return n - n // 2


def _fit(window: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Ridge logistic regression (intercept first) by Newton's method, both classes weighted
    to equal total weight so that a small window is not drowned by the reference."""
    x = np.vstack([window, reference])
    x = np.hstack([np.ones((x.shape[0], 1)), x])
    y = np.concatenate([np.ones(window.shape[0]), np.zeros(reference.shape[0])])
    sample = np.concatenate(
        [
            np.full(window.shape[0], 0.5 / window.shape[0]),
            np.full(reference.shape[0], 0.5 / reference.shape[0]),
        ]
    )
    penalty = np.full(x.shape[1], RIDGE / math.sqrt(x.shape[0]))
    penalty[0] = 0.0
    beta = np.zeros(x.shape[1])
    for _ in range(NEWTON_STEPS):
        p = expit(x @ beta)
        gradient = x.T @ (sample * (p - y)) + penalty * beta
        hessian = (x * (sample * p * (1.0 - p))[:, None]).T @ x + np.diag(penalty + 1e-12)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return beta


def _auc(scores: np.ndarray, first: int) -> float:
    """AUC of the first ``first`` scores against the rest (ties count half)."""
    ranks = rankdata(scores)
    second = scores.size - first
    return float((ranks[:first].sum() - first * (first + 1) / 2.0) / (first * second))


def _auc_sigma(n1: int, n0: int) -> float:
    return math.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))


def _auc_sf(auc: float, n1: int, n0: int) -> float:
    return float(0.5 * math.erfc((auc - 0.5) / _auc_sigma(n1, n0) / math.sqrt(2.0)))


def auc_quantile(n1: int, n0: int, alpha: float) -> float:
    """The upper ``alpha`` quantile of the AUC of ``n1`` against ``n0`` exchangeable scores.

    The normal approximation of the Mann-Whitney statistic: its true tail is lighter than the
    normal's (the statistic is bounded, its kurtosis below 3), so with a continuity correction
    the limit errs towards fewer false alarms (checked against the exact null in the tests);
    ties in the scores only narrow the null further.
    """
    if n1 < 1 or n0 < 1:
        raise DetectorInputError(f"sizes must be positive, got {n1} and {n0}")
    if not 0.0 < alpha < 1.0:
        raise DetectorInputError(f"alpha must lie in (0, 1), got {alpha}")
    # Half a step of U as continuity correction: U moves in steps of 1 / (n1 n0) of the AUC.
    step = 0.5 / (n1 * n0)
    return min(1.0, 0.5 + float(ndtri(1.0 - alpha)) * _auc_sigma(n1, n0) + step)
