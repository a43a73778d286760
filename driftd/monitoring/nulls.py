"""Null distributions of the drift statistics, for calibrated limits.

``calibrated`` limits answer: how large does this statistic get on a window of ``n`` events
drawn from the reference distribution itself? The limit is the statistic's upper ``alpha``
quantile under that null.

- KS is distribution-free for continuous data: its two-sample null depends only on the sizes,
  so the limit comes straight from the Kolmogorov distribution at the effective size
  ``n·R/(n+R)`` (as ``scipy.stats.ks_2samp``'s asymptotic p-value does). With ties (discrete
  features) the test is conservative: fewer false alarms than targeted.
- Histogram statistics (PSI, L-infinity, Jensen-Shannon, numeric or categorical) are simulated
  (``SimulatedNull``): a reference of size ``R`` and a window of size ``n``, both multinomial
  on the reference histogram (so the reference's own sampling error is part of the null),
  scored by the same kernels as live windows, ``ceil(64 / alpha)`` times, so that about 64
  draws lie beyond the limit and the false-alarm rate it gives is within about ±25 % (two
  standard errors) of the target. Numba draws about a million per second on two cores for ten
  bins (the cost grows with the bins). Below ``64 / max_draws`` (``max_draws`` 500,000: tail
  probabilities under 1.3e-4) the tail beyond the 256th largest draw is extrapolated as exponential
  (peaks over threshold on the statistic, or on its square for distances); for these
  light-tailed statistics that errs towards fewer false alarms. Simulated tails are cached
  per size in memory and, with ``state.dir``, on disk (``calibration/``), so only the first
  start-up pays.
- Wasserstein is simulated the same way (``WassersteinNull``): a bootstrap reference of the
  sample's size and a bootstrap window, both from the reference sample, by counts over its
  sorted values, up to 50,000 draws per size (each costs about the reference sample's size,
  20,000, in operations: 20,000 draws take 1-2 s), the tail past them extrapolated as above.

Window sizes: the configured count-window size is simulated exactly. Any other size (tumbling
windows, windows with missing values) is interpolated between the two simulated sizes around
it on a grid of two per doubling (within 10 % of the count-window size, the exact size is
rescaled instead): the limit divided by its asymptotic scale,
``(1/n + 1/R)`` for divergences and its square root for distances, varies slowly with ``n``
and is interpolated linearly in ``log n``. So a new size costs no simulation unless it falls
outside the sizes seen so far.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class NullModel(Protocol):
    """The upper ``alpha`` quantile of a statistic on reference-distributed windows of size n."""

    def quantile(self, n: int, alpha: float) -> float: ...


def size_bucket(n: int) -> int:
    """``n`` rounded to two significant digits (the calibration cache key)."""
    if n < 100:
        return max(n, 1)
    digits = math.floor(math.log10(n)) - 1
    return round(n, -digits)


GRID_STEPS = 2  # simulated sizes per doubling; sizes between are interpolated
EXACT_BELOW = 32  # smaller windows are simulated at their own size


def grid_neighbours(n: int) -> tuple[int, int]:
    """The simulated sizes on either side of ``n`` (equal when ``n`` is on the grid)."""
    if n < EXACT_BELOW:
        return max(n, 1), max(n, 1)
    step = math.log2(n) * GRID_STEPS
    lo = round(2.0 ** (math.floor(step + 1e-9) / GRID_STEPS))
    hi = round(2.0 ** (math.ceil(step - 1e-9) / GRID_STEPS))
    if n in (lo, hi) or lo == hi:
        return n, n
    return min(lo, n), max(hi, n)


TARGET_EXCEEDANCES = 64
MIN_DRAWS = 20_000
KEEP = 4096  # largest draws kept per size: quantiles down to KEEP / draws without redrawing
MEMO_LIMIT = 4096  # (size, alpha) limits remembered per null
POT_K = 256  # draws the exponential tail is fitted to, below 64 / max_draws
# Percentiles of every simulation, for the typical values adaptive limits compare against.
BODY_LEVELS = np.linspace(0.01, 0.99, 99)


@dataclass(frozen=True)
class Tail:
    """What one simulation at one window size leaves: its size, its largest values (sorted)
    and its percentiles (``BODY_LEVELS``)."""

    draws: int
    top: np.ndarray
    body: np.ndarray

    def answers(self, alpha: float, need: int) -> bool:
        """Whether this tail has the draws ``alpha`` needs, and keeps the values it reads."""
        if self.draws < need:
            return False
        return math.ceil(alpha * self.draws) <= self.top.size or alpha >= BODY_LEVELS[0]

    def quantile(self, alpha: float, power: float) -> float:
        """The upper ``alpha`` quantile; extrapolated past the draws when they are too few."""
        exceed = alpha * self.draws
        if math.ceil(exceed) > self.top.size:
            return float(np.interp(1.0 - alpha, BODY_LEVELS, self.body))
        empirical = float(self.top[-max(1, math.ceil(exceed))]) if exceed >= 1 else -math.inf
        if exceed >= TARGET_EXCEEDANCES or self.top.size <= POT_K:
            return empirical if exceed >= 1 else float(self.top[-1])
        y = self.top[-(POT_K + 1) :] ** power
        u, excess = float(y[0]), y[1:] - y[0]
        scale = float(excess.mean())
        fitted = u + scale * math.log((POT_K / self.draws) / alpha)
        return max(max(fitted, 0.0) ** (1.0 / power), empirical)


class TailCache(Protocol):
    """Where simulated tails persist between runs (a directory; or nothing)."""

    def load(self, key: str) -> dict[int, list[Tail]]: ...
    def store(self, key: str, tails: dict[int, list[Tail]]) -> None: ...


class DirectoryTailCache:
    """Simulated tails as one JSON file per null under ``directory`` (errors only logged:
    the cache saves start-up time, it is never needed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def load(self, key: str) -> dict[int, list[Tail]]:
        """The tails stored under ``key`` ({} when none or unreadable)."""
        path = self.directory / f"{key}.json"
        try:
            doc = json.loads(path.read_text())
            return {
                int(n): [
                    Tail(
                        int(t["draws"]),
                        np.asarray(t["top"], dtype=np.float64),
                        np.asarray(t["body"], dtype=np.float64),
                    )
                    for t in tails
                ]
                for n, tails in doc.items()
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("calibration cache %s unreadable, simulating again: %s", path, exc)
            return {}

    def store(self, key: str, tails: dict[int, list[Tail]]) -> None:
        """Write ``tails`` under ``key`` atomically."""
        doc = {
            str(n): [{"draws": t.draws, "top": t.top.tolist(), "body": t.body.tolist()} for t in ts]
            for n, ts in tails.items()
        }
        path = self.directory / f"{key}.json"
        tmp = path.with_suffix(".tmp")
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Owner only, like the rest of state.dir: the tails derive from the reference.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(doc))
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("calibration cache %s not written: %s", path, exc)


def user_cache_dir() -> Path:
    """Where simulated tails are kept without a state dir: ``$DRIFTD_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/driftd/calibration``, else ``~/.cache/driftd/calibration``."""
    given = os.environ.get("DRIFTD_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftd" / "calibration"


_MEMO: dict[str, dict[int, list[Tail]]] = {}


class SimulatedNull:
    """A histogram statistic's null by simulation (see the module docstring)."""

    VERSION = 2  # part of the cache key: a change to the method must not reuse old tails

    def __init__(
        self,
        counts: np.ndarray,
        statistic: str,
        *,
        power: float,
        seed: int = 0,
        max_draws: int = 500_000,
        anchors: Iterable[int] = (),
        cache: TailCache | None = None,
        smoothing: float = 0.5,
    ) -> None:
        from detectors import _null_kernels as kernels

        counts = np.asarray(counts, dtype=np.float64)
        self._p = counts / counts.sum()
        self._total = int(counts.sum())
        self._kind = {"psi": kernels.PSI, "linf": kernels.LINF, "js": kernels.JS}[statistic]
        self._draw = kernels.null_draws
        self._power = power
        self._seed = seed
        self._max_draws = max_draws
        self._smoothing = smoothing
        self.anchors = set(anchors)
        self._cache = cache
        digest = hashlib.sha256(counts.tobytes())
        digest.update(f"{statistic}|{smoothing}|{seed}|{self.VERSION}".encode())
        self._key = f"{statistic}-{digest.hexdigest()[:24]}"
        # Shared by every null of the same histogram and statistic in this process (monitors
        # rebuilt on reload, segments, tests), then by the cache across processes.
        if self._key not in _MEMO:
            _MEMO[self._key] = cache.load(self._key) if cache is not None else {}
        self._tails = _MEMO[self._key]
        self._quantiles: dict[tuple[int, float], float] = {}

    def _scale(self, n: int) -> float:
        return (1.0 / n + 1.0 / self._total) ** (1.0 / self._power)

    def draws_for(self, alpha: float) -> int:
        """How many draws a tail probability ``alpha`` needs (capped at ``max_draws``)."""
        return min(max(math.ceil(TARGET_EXCEEDANCES / alpha), MIN_DRAWS), self._max_draws)

    def quantile(self, n: int, alpha: float) -> float:
        """The limit for a window of ``n`` events at tail probability ``alpha``."""
        key = (n, alpha)
        if key not in self._quantiles:
            if len(self._quantiles) >= MEMO_LIMIT:
                # Tumbling windows bring many sizes: recomputing is cheap, growing is not.
                self._quantiles.clear()
            self._quantiles[key] = self._between(
                n, lambda size: self.tail(size, alpha).quantile(alpha, self._power)
            )
        return self._quantiles[key]

    def _between(self, n: int, value: Callable[[int], float]) -> float:
        if n in self.anchors:
            return value(n)
        for anchor in self.anchors:
            # A count window short of a few missing values: the anchor's limit at its own
            # size, rescaled; over 10 % of the size the asymptotic scale is all that changes.
            if 0.9 * anchor <= n <= 1.1 * anchor:
                return value(anchor) * self._scale(n) / self._scale(anchor)
        lo, hi = grid_neighbours(n)
        if lo == hi:
            return value(lo)
        a, b = value(lo) / self._scale(lo), value(hi) / self._scale(hi)
        w = (math.log(n) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (a + w * (b - a)) * self._scale(n)

    def tail(self, bucket: int, alpha: float) -> Tail:
        """A simulated tail at ``bucket`` with draws enough for ``alpha`` (simulated now when
        none of those already made can answer)."""
        need = self.draws_for(alpha)
        for have in self._tails.get(bucket, ()):
            if have.answers(alpha, need):
                return have
        seed = int.from_bytes(
            hashlib.sha256(f"{self._key}|{bucket}|{need}".encode()).digest()[:4], "little"
        )
        values = self._simulate(bucket, need, seed)
        values.sort()
        body = np.quantile(values, BODY_LEVELS)
        tail = Tail(need, values[-min(KEEP, values.size) :].copy(), body)
        self._tails.setdefault(bucket, []).append(tail)
        if self._cache is not None:
            self._cache.store(self._key, self._tails)
        return tail

    def _simulate(self, n: int, draws: int, seed: int) -> np.ndarray:
        """``draws`` values of the statistic on windows of ``n`` under the null."""
        return self._draw(self._p, self._total, n, draws, self._kind, self._smoothing, seed)


class WassersteinNull(SimulatedNull):
    """Normalised Wasserstein-1's null, simulated like the histogram statistics' (same draws
    per tail probability, tails kept and cached, exponential tail past ``max_draws``): a
    bootstrap reference of the sample's size and a bootstrap window of ``n``, both from the
    reference sample, by counts over its sorted values (``w1_null_draws``)."""

    VERSION = 1

    def __init__(
        self,
        sample: np.ndarray,
        scale: float,
        *,
        seed: int = 0,
        max_draws: int = 50_000,
        anchors: Iterable[int] = (),
        cache: TailCache | None = None,
    ) -> None:
        from detectors._wasserstein_kernels import w1_null_draws

        self._x = np.ascontiguousarray(np.sort(sample) / scale, dtype=np.float64)
        self._total = int(self._x.size)
        self._w1 = w1_null_draws
        self._power = 2.0
        self._seed = seed
        self._max_draws = max_draws
        self.anchors = set(anchors)
        self._cache = cache
        digest = hashlib.sha256(self._x.tobytes())
        digest.update(f"wasserstein|{seed}|{self.VERSION}".encode())
        self._key = f"wasserstein-{digest.hexdigest()[:24]}"
        if self._key not in _MEMO:
            _MEMO[self._key] = cache.load(self._key) if cache is not None else {}
        self._tails = _MEMO[self._key]
        self._quantiles: dict[tuple[int, float], float] = {}

    def _simulate(self, n: int, draws: int, seed: int) -> np.ndarray:
        return self._w1(self._x, n, draws, seed)


class KSNull:
    """The Kolmogorov distribution at the effective sample size (distribution-free)."""

    def __init__(self, reference_size: int) -> None:
        self.reference_size = reference_size
        self._cache: dict[tuple[int, float], float] = {}

    def quantile(self, n: int, alpha: float) -> float:
        """Limit on the KS statistic D for a window of ``n`` events (cached)."""
        key = (n, alpha)
        if key not in self._cache:
            if len(self._cache) >= MEMO_LIMIT:
                self._cache.clear()
            m = self.reference_size
            effective = max(1, round(n * m / (n + m)))
            from scipy import stats  # 0.5 s to import; only when a limit is computed

            self._cache[key] = float(stats.kstwo.isf(alpha, effective))
        return self._cache[key]


def family_alpha(windows_between_false_alarms: float, tests: int, correction: str) -> float:
    """Per-test tail probability for a family-wise false-alarm target.

    One false alarm per ``windows_between_false_alarms`` windows across ``tests`` statistics
    (features × statistics × segments) evaluated on each window.

    Examples
    --------
    >>> round(family_alpha(1000, 10, "bonferroni"), 8)
    0.0001
    >>> round(family_alpha(1000, 10, "sidak"), 8)
    0.00010005
    """
    family = 1.0 / windows_between_false_alarms
    tests = max(tests, 1)
    if correction == "bonferroni":
        return family / tests
    if correction == "sidak":
        return -math.expm1(math.log1p(-family) / tests)
    return family
