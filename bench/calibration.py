"""False-alarm rates of the calibrated statistics on null windows.

For each statistic (psi, linf, js) and histogram shape, references of 5,000 events and windows
are drawn from one "true" distribution; each reference's limit comes from its own histogram, as
a profile's would, via ``SimulatedNull``. Rows: the observed false alarms against the target at
alpha = 1e-3 and at the per-test alpha of the default family (one false alarm per 1,000
windows over 10 tests, Sidak: about 1e-4), with the 95 % binomial interval of the target. The
``ratio`` is target / observed (1 is exact, above 1 conservative).

The canary comparison's two-window tests (KS on scores, class shares) get them on pairs of
live windows from one law. KS gets them on references of 5,000 from a continuous law and from
a count law with many ties (where the distribution-free limit is conservative), windows of
1,000. Normalised Wasserstein gets the same rows on references of 5,000 values from a normal
and a lognormal law (windows of 1,000). The multivariate statistics (``pca``, ``classifier``) get
them on six correlated features, Gaussian and lognormal (skewed reconstruction errors),
windows of 1,000 rows, each reference a joint sample built as ``reference build`` builds it.

    python bench/calibration.py                      # about 20 minutes on 2 cores
    python bench/calibration.py --only multivariate  # about 5 minutes
    python bench/calibration.py --only wasserstein   # about 25 minutes
    python bench/calibration.py --only ks            # about 1 minute
    python bench/calibration.py --only comparison    # about 1 minute
    python bench/calibration.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd.monitoring.nulls import family_alpha
from tests.nullwindows import (
    KINDS,
    adaptive_false_alarms,
    comparison_false_alarms,
    ks_false_alarms,
    multivariate_false_alarms,
    observed_false_alarms,
    wasserstein_false_alarms,
)

SHAPES = {
    "uneven8": np.array([0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.015, 0.005]),
    "even10": np.full(10, 0.1),
    "long_tail30": 1.0 / np.arange(1, 31) ** 1.2 / np.sum(1.0 / np.arange(1, 31) ** 1.2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", choices=["histogram", "ks", "comparison", "wasserstein", "multivariate"]
    )
    args = parser.parse_args()
    if args.only in (None, "histogram"):
        histogram(args.quick)
    if args.only in (None, "ks"):
        ks(args.quick)
    if args.only in (None, "comparison"):
        comparison(args.quick)
    if args.only in (None, "wasserstein"):
        wasserstein(args.quick)
    if args.only in (None, "multivariate"):
        multivariate(args.quick)


def ks(quick: bool) -> None:
    """Rows for KS: calibrated and adaptive, a continuous feature and a count feature (ties)."""
    default = family_alpha(1000, 10, "sidak")
    plans = [(1e-3, 100, 100), (default, 200, 500)]
    if quick:
        plans = [(1e-2, 20, 50)]
    for alpha, references, windows in plans:
        for tied in (False, True):
            for adaptive in (False, True):
                started = time.perf_counter()
                alarms = ks_false_alarms(
                    alpha, 1000, references=references, windows=windows, tied=tied,
                    adaptive=adaptive, seed=11,
                )  # fmt: skip
                shape = "poisson_ties" if tied else "continuous"
                policy = "adaptive_" if adaptive else ""
                _row(f"false_alarms_{policy}ks_{shape}", alarms,
                     references * windows, alpha, started)  # fmt: skip


def comparison(quick: bool) -> None:
    """Rows for the canary's two-window tests (candidate 200 vs baseline 800 per window)."""
    default = family_alpha(1000, 10, "sidak")
    plans = [(1e-3, 20_000), (default, 100_000)]
    if quick:
        plans = [(1e-2, 1000)]
    for alpha, windows in plans:
        for statistic in ("ks", "shares"):
            started = time.perf_counter()
            alarms = comparison_false_alarms(statistic, alpha, windows=windows, seed=11)
            _row(f"false_alarms_canary_{statistic}", alarms, windows, alpha, started)


def wasserstein(quick: bool) -> None:
    """Rows for normalised Wasserstein: calibrated and adaptive, normal and lognormal."""
    default = family_alpha(1000, 10, "sidak")
    # Many references, as for the histogram statistics: the rate promised is over reference
    # samples, and one reference's own sampling error shifts every window judged against it
    # (on a lognormal feature one sample of 5,000 in ten gets several times the target), so
    # ten references cannot tell a calibration from its luck.
    plans = [(1e-3, 100, 100), (default, 200, 500)]
    if quick:
        plans = [(1e-2, 20, 50)]
    for alpha, references, windows in plans:
        for skewed in (False, True):
            for adaptive in (False, True):
                started = time.perf_counter()
                alarms = wasserstein_false_alarms(
                    alpha, 1000, references=references, windows=windows, skewed=skewed,
                    adaptive=adaptive, seed=11,
                )  # fmt: skip
                shape = "lognormal" if skewed else "normal"
                policy = "adaptive_" if adaptive else ""
                _row(f"false_alarms_{policy}wasserstein_{shape}", alarms,
                     references * windows, alpha, started)  # fmt: skip


def _row(name: str, alarms: int, total: int, alpha: float, started: float) -> None:
    low, high = stats.binom.ppf([0.025, 0.975], total, alpha)
    row = {
        "name": name,
        "value": int(alarms),
        "unit": "windows",
        "windows": total,
        "alpha": alpha,
        "target": round(alpha * total, 1),
        "interval_95": [int(low), int(high)],
        "within_or_below": bool(alarms <= high),
        "baseline": round(alpha * total, 1),
        "ratio": round(alpha * total / max(alarms, 1), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(row), flush=True)


def multivariate(quick: bool) -> None:
    """Rows for pca and classifier: calibrated and adaptive, Gaussian and skewed features."""
    default = family_alpha(1000, 10, "sidak")
    for statistic in ("pca", "classifier"):
        plans = [(1e-3, 10, 1000), (default, 20, 2500 if statistic == "pca" else 500)]
        if quick:
            plans = [(1e-2, 4, 250)]
        for alpha, references, windows in plans:
            for skewed in (False, True):
                for adaptive in (False, True):
                    started = time.perf_counter()
                    alarms = multivariate_false_alarms(
                        statistic, alpha, 1000, references=references, windows=windows,
                        skewed=skewed, adaptive=adaptive, seed=11,
                    )  # fmt: skip
                    shape = "lognormal6" if skewed else "gauss6"
                    policy = "adaptive_" if adaptive else ""
                    name = f"false_alarms_{policy}{statistic}_{shape}"
                    _row(name, alarms, references * windows, alpha, started)


def histogram(quick: bool) -> None:
    """Rows for the histogram statistics on three shapes."""
    default = family_alpha(1000, 10, "sidak")
    plans = [(1e-3, 200, 100), (default, 100, 1000)]
    if quick:
        plans = [(1e-3, 50, 200)]
    for alpha, references, windows in plans:
        total = references * windows
        for shape, truth in SHAPES.items():
            for statistic in KINDS:
                for policy in ("calibrated", "adaptive", "adaptive_nofloor"):
                    started = time.perf_counter()
                    if policy == "calibrated":
                        alarms = observed_false_alarms(
                            truth, statistic, alpha, 2000, references=references,
                            windows=windows, seed=11,
                        )  # fmt: skip
                    else:
                        alarms = adaptive_false_alarms(
                            truth, statistic, alpha, 2000, references=references,
                            windows=windows, floor=policy == "adaptive", seed=11,
                        )  # fmt: skip
                    name = f"false_alarms_{statistic}_{shape}"
                    if policy != "calibrated":
                        name = f"false_alarms_{policy}_{statistic}_{shape}"
                    _row(name, alarms, total, alpha, started)


if __name__ == "__main__":
    main()
