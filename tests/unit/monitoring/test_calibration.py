"""Calibrated limits of histogram statistics keep their false-alarm promise on null windows.

Windows and references are drawn from a "true" distribution; each reference's limits come from
its own histogram (as a profile's would). A false-alarm rate conditional on one reference
varies with that reference's sampling error, so the rate is measured over 100 references of
200 windows each. It must not exceed the upper end of the target's binomial interval (at
99.5 %, a little room for that variation) nor fall below 70 % of the target (a limit much too
loose would pass the first check alone; discrete statistics such as L-infinity on few bins
have ties and sit somewhat below). bench/calibration.py measures alpha = 1e-3 and the default
family size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from driftd.monitoring.nulls import SimulatedNull
from tests.nullwindows import observed_false_alarms

UNEVEN = np.array([0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.015, 0.005])
EVEN = np.full(10, 0.1)


@pytest.mark.parametrize("statistic", ["psi", "linf", "js"])
@pytest.mark.parametrize(("truth", "n"), [(UNEVEN, 2000), (EVEN, 731)])
def test_the_false_alarm_rate_is_the_target(statistic: str, truth: np.ndarray, n: int) -> None:
    alpha, references, windows = 0.01, 100, 200
    total = references * windows
    alarms = observed_false_alarms(
        truth, statistic, alpha, n, references=references, windows=windows
    )
    high = stats.binom.ppf(0.995, total, alpha)
    # 731 is off the simulated grid: interpolated between 724 and 1024.
    message = f"{alarms} false alarms in {total}, target {alpha * total:.0f}"
    assert 0.7 * alpha * total <= alarms <= high, message


def test_simulated_tails_persist_owner_only_and_are_reused(tmp_path: Path) -> None:
    from driftd.monitoring import nulls

    counts = np.array([500.0, 300.0, 150.0, 50.0])
    cache = nulls.DirectoryTailCache(tmp_path / "calibration")
    first = SimulatedNull(counts, "linf", power=2.0, seed=5, cache=cache)
    limit = first.quantile(1000, 1e-3)
    [stored] = list((tmp_path / "calibration").iterdir())
    assert stored.stat().st_mode & 0o777 == 0o600
    nulls._MEMO.clear()  # a new process: only the file is left

    def no_simulation(*args: object) -> np.ndarray:
        raise AssertionError("simulated again instead of reading the cache")

    again = SimulatedNull(counts, "linf", power=2.0, seed=5, cache=cache)
    again._draw = no_simulation  # type: ignore[assignment]
    assert again.quantile(1000, 1e-3) == limit
