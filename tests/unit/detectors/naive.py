"""Slow reference twins of the detectors kernels: plain numpy and scipy, written for clarity.

Loaded by ``conftest.py`` and handed to tests through the ``naive`` fixture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon


def ks_2samp(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    res = stats.ks_2samp(x, y)
    return float(res.statistic), float(res.pvalue)


def ks_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """max |F_x - F_y| over the pooled sample, by brute force."""
    pooled = np.concatenate([x, y])
    fx = np.searchsorted(np.sort(x), pooled, side="right") / x.size
    fy = np.searchsorted(np.sort(y), pooled, side="right") / y.size
    return float(np.max(np.abs(fx - fy)))


def kolmogorov_sf(n: int, x: float) -> float:
    return float(stats.kstwo.sf(x, n))


def quantile_edges(reference: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(reference, np.arange(1, n_bins) / n_bins, method="higher"))
    return edges[edges > reference.min()]


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def category_counts(codes: np.ndarray, n_categories: int) -> np.ndarray:
    return np.bincount(codes, minlength=n_categories)


def encode(domain: Sequence[object], values: Sequence[object]) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(domain)}
    return np.array([lookup.get(v, len(domain)) for v in values], dtype=np.int64)


def psi(ref: np.ndarray, cur: np.ndarray, alpha: float) -> float:
    p = (ref + alpha) / (ref.sum() + alpha * ref.size)
    q = (cur + alpha) / (cur.sum() + alpha * cur.size)
    return float(np.sum((q - p) * np.log(q / p)))


def linf(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    diff = np.abs(a / a.sum() - b / b.sum())
    return float(diff.max()), int(np.argmax(diff))


def js(a: np.ndarray, b: np.ndarray) -> float:
    return float(jensenshannon(a, b, base=2))


def wasserstein(u: np.ndarray, v: np.ndarray) -> float:
    return float(stats.wasserstein_distance(u, v))


def reconstruction_errors(
    rows: np.ndarray, mean: np.ndarray, scale: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """Distance of each standardized row from its projection, by matrix algebra."""
    z = (rows - mean) / scale
    projector = components.T @ components
    return np.linalg.norm(z - z @ projector, axis=1)


def principal_projector(rows: np.ndarray, k: int) -> np.ndarray:
    """The projector on the top ``k`` eigenvectors of the standardized covariance."""
    z = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    _, vectors = np.linalg.eigh(np.cov(z, rowvar=False))
    top = vectors[:, ::-1][:, :k]
    return top @ top.T


def auc(first: np.ndarray, second: np.ndarray) -> float:
    """AUC of ``first`` against ``second`` as the Mann-Whitney U statistic."""
    u = stats.mannwhitneyu(first, second, alternative="greater").statistic
    return float(u / (first.size * second.size))


def mann_whitney_sf(u: int, n1: int, n0: int) -> float:
    """P(U >= u) for the Mann-Whitney U of n1 against n0 exchangeable values without ties,
    by the recurrence on the largest value (it belongs to the first sample or the second)."""
    top = n1 * n0
    # p[a][b] is the distribution of U for sizes (a, b), as an array over 0..top.
    p = [[np.zeros(top + 1) for _ in range(n0 + 1)] for _ in range(n1 + 1)]
    for a in range(n1 + 1):
        for b in range(n0 + 1):
            if a == 0 or b == 0:
                p[a][b][0] = 1.0
                continue
            # The largest value is in the first sample: it beats all b of the second.
            shifted = np.zeros(top + 1)
            shifted[b:] = p[a - 1][b][: top + 1 - b]
            p[a][b] = (a * shifted + b * p[a][b - 1]) / (a + b)
    return float(p[n1][n0][u:].sum())
