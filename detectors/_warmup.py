"""Compile every Numba kernel once, on tiny inputs, before a daemon reports ready."""

from __future__ import annotations

import time

import numpy as np

from . import _binning_kernels, _divergence_kernels, _kolmogorov, _ks_kernels
from ._wasserstein_kernels import w1_null_draws, w1_sorted
from .pca import _errors as _pca_errors


def warmup() -> float:
    """Run each kernel once so that it is compiled, or loaded from Numba's on-disk cache.

    Every kernel is only ever called with one set of argument types (the public functions
    convert to float64 / int64 first), so one call per kernel covers all later calls.

    Returns
    -------
    float
        Seconds spent.

    Examples
    --------
    >>> warmup() >= 0.0
    True
    """
    start = time.perf_counter()
    x = np.linspace(0.0, 1.0, 40)
    y = np.linspace(0.25, 1.25, 50)
    _ks_kernels.ecdf_extremes(x, y, _ks_kernels.merge_block(x.size, y.size))
    # Detectors hold their reference read-only, which Numba compiles as another type.
    frozen = x.copy()
    frozen.flags.writeable = False
    _ks_kernels.ecdf_extremes(frozen, y, _ks_kernels.merge_block(x.size, y.size))
    _ks_kernels.exact_sf_equal(40, 3)
    _ks_kernels.exact_sf_unequal(40, 50, 10, 30)
    # One call per region of the Kolmogorov distribution: Ruben-Gambino, Durbin's matrix,
    # Pomeranz and Pelz-Good.
    for n, d in ((50, 0.015), (50, 0.05), (50, 0.2), (5000, 0.01)):
        _kolmogorov.kolmogorov_sf_kernel(n, d)
    small = np.full(_binning_kernels.SMALL_EDGES, np.inf)
    small[:3] = (0.2, 0.5, 0.8)
    _binning_kernels.bin_counts_small(x, small, 4)
    large = np.full(31, np.inf)
    large[:19] = np.linspace(0.05, 0.95, 19)
    _binning_kernels.bin_counts_large(x, large, 20)
    _binning_kernels.code_counts(np.arange(6, dtype=np.int64) % 3, 3)
    p = np.array([3.0, 1.0, 0.0])
    q = np.array([1.0, 1.0, 2.0])
    _divergence_kernels.psi_counts(p, q, 0.5)
    _divergence_kernels.linf_counts(p, q)
    _divergence_kernels.js_counts(p, q)
    w1_sorted(x, y)
    w1_sorted(frozen, y)
    w1_null_draws(x, 5, 2, 0)
    # The PCA reconstruction kernel of the multivariate statistics.
    _pca_errors(np.zeros((2, 2)), np.zeros(2), np.ones(2), np.eye(2)[:1].copy())
    return time.perf_counter() - start
