"""False alarms and detection delays of driftd's river concept-drift detectors, over a small grid.

Run ``python bench/concept_defaults.py`` (``--quick`` for a smoke run, ``--seeds N``, ``--jobs N``).
Prints one JSON object per line on stdout and a markdown summary per detector on stderr.

Detectors are built and fed exactly as the daemon does it: each grid point is validated by
driftd's own pydantic model (``driftd.concept.config.DetectorConfig``) and wrapped in
``driftd.concept.detectors.ConceptDetector``, whose ``update`` gets the 0/1 error of every pair
(ints for the binary detectors, ADWIN's ``direction: increase`` filter applied). A "signal" is one
``Detection`` that wrapper returns, i.e. river's ``drift_detected`` after an update (warnings are
not counted). river resets a detector on the update after a drift, so counts are of independent
alarms.

Error streams (generated once per seed, reused by every grid point):

- ``bernoulli``: stationary i.i.d. 0/1 errors at base rates 0.05, 0.15 and 0.30
  (``--stationary-length`` events per seed). Gives false alarms per 100,000 errors.
- ``jump_A_B``: an abrupt error-rate jump from A to B after ``--pre`` events, then ``--post``.
- ``jump_0.10_0.20_long``: the same 0.10 -> 0.20 jump after ``--long-pre`` events, to show
  detectors whose statistics accumulate since their last reset (DDM, HDDM_A) slowing down.
- ``sea_tree``: river's ``datasets.synth.SEA`` (``noise=0.1``): a ``HoeffdingTreeClassifier``
  learns the first ``--train`` events of variant 0 and is then frozen; the detectors see its
  errors on the next ``--sea-pre`` events of variant 0, then ``--post`` events of variant 2
  (threshold 8 -> 7).
  The two streams are concatenated rather than joined by ``ConceptDriftStream``, whose
  ``math.exp`` overflows for ``width=1`` at positions this far into the stream.
- ``sea_oracle``: the same SEA events judged by the variant-0 rule itself (x0 + x1 > 8), so the
  pre-change error is the label noise alone.

For streams with a change, signals before the change count as false alarms (per 100k pre-change
events); the delay is ``first signal index - change index + 1`` (the number of post-change events
seen, including the one that triggered), and runs with no signal in ``--post`` events are
"undetected". ``detection_delay_median`` counts undetected runs as infinite (null when more than
half are undetected).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from pydantic import TypeAdapter  # noqa: E402

from driftd.concept.config import DetectorConfig  # noqa: E402
from driftd.concept.detectors import ConceptDetector  # noqa: E402

ADAPTER: TypeAdapter[Any] = TypeAdapter(DetectorConfig)

# Grid around river's (= driftd's current) defaults; keys are driftd config field names, which
# build_river passes to river's constructors unchanged.
GRID: dict[str, list[dict[str, Any]]] = {
    "adwin": [{"delta": d} for d in (0.01, 0.002, 0.0005, 0.0001, 0.00001)],
    "page_hinkley": [
        {"alpha": a, "threshold": h, "delta": d}
        for a in (1 - 0.0001, 1.0)
        for h in (50.0, 100.0)
        for d in (0.005, 0.01)
    ],
    # warm_start matters for DDM: p_min/s_min are the minimum of p + s over the stream, which a
    # lucky run of few errors just after the warm start can pin at a low p with a large s.
    "ddm": [
        {"warm_start": w, "drift_threshold": t} for w in (30, 1000) for t in (3.0, 3.5, 4.0, 5.0)
    ],
    # EDDM's p'_max + 2 s'_max is likewise pinned by noisy early distances when warm_start is small.
    "eddm": [
        {"warm_start": w, "beta": b} for w in (30, 100, 300, 1000) for b in (0.9, 0.85, 0.8, 0.7)
    ],
    "hddm_a": [{"drift_confidence": c} for c in (0.001, 1e-4, 1e-5, 1e-6)],
    "hddm_w": [
        {"lambda_val": lam, "drift_confidence": c}
        for lam in (0.05, 0.01, 0.005, 0.002, 0.001)
        for c in (0.001, 1e-4)
    ],
}
STATIONARY_RATES = (0.05, 0.15, 0.30)
JUMPS = ((0.10, 0.20), (0.10, 0.15))
LONG_JUMP = (0.10, 0.20)
WITHIN = (5_000, 20_000, 40_000)
SEA_NOISE = 0.1


@dataclass(frozen=True)
class Stream:
    family: str  # what results are pooled over (all seeds of one kind of stream)
    seed: int
    errors: np.ndarray
    change: int | None  # index of the first post-change error, None when stationary


STREAMS: list[Stream] = []  # filled in the parent, inherited by forked workers


def bernoulli(rate: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(n) < rate).astype(np.float64)


def sea_streams(seed: int, train: int, pre: int, post: int) -> tuple[np.ndarray, np.ndarray]:
    """Errors of a frozen Hoeffding tree and of the variant-0 rule on SEA 0 -> SEA 2."""
    from river import tree
    from river.datasets import synth

    before = iter(synth.SEA(variant=0, noise=SEA_NOISE, seed=seed))
    after = iter(synth.SEA(variant=2, noise=SEA_NOISE, seed=seed + 100_000))
    model = tree.HoeffdingTreeClassifier()
    for x, y in itertools.islice(before, train):
        model.learn_one(x, y)
    tree_err = np.empty(pre + post)
    oracle_err = np.empty(pre + post)
    events = itertools.chain(itertools.islice(before, pre), itertools.islice(after, post))
    for i, (x, y) in enumerate(events):
        tree_err[i] = model.predict_one(x) != y
        oracle_err[i] = (x[0] + x[1] > 8) != y
    return tree_err, oracle_err


def build_streams(args: argparse.Namespace) -> list[Stream]:
    streams: list[Stream] = []
    for seed in range(args.seeds):
        for rate in STATIONARY_RATES:
            rng = np.random.default_rng([seed, round(rate * 1000), 1])
            errors = bernoulli(rate, args.stationary_length, rng)
            streams.append(Stream(f"bernoulli_{rate:.2f}", seed, errors, None))
        for a, b in JUMPS:
            rng = np.random.default_rng([seed, round(a * 1000), round(b * 1000), 2])
            errors = np.r_[bernoulli(a, args.pre, rng), bernoulli(b, args.post, rng)]
            streams.append(Stream(f"jump_{a:.2f}_{b:.2f}", seed, errors, args.pre))
        a, b = LONG_JUMP
        rng = np.random.default_rng([seed, round(a * 1000), round(b * 1000), 3])
        errors = np.r_[bernoulli(a, args.long_pre, rng), bernoulli(b, args.post, rng)]
        streams.append(Stream(f"jump_{a:.2f}_{b:.2f}_long", seed, errors, args.long_pre))
        tree_err, oracle_err = sea_streams(seed, args.train, args.sea_pre, args.post)
        streams.append(Stream("sea_tree", seed, tree_err, args.sea_pre))
        streams.append(Stream("sea_oracle", seed, oracle_err, args.sea_pre))
    return streams


def run_config(job: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any], list[list[int]]]:
    """Signal indices of one grid point on every stream (in STREAMS order)."""
    type_, params = job
    config = ADAPTER.validate_python({"type": type_, **params})
    out = []
    for s in STREAMS:
        det = ConceptDetector(config, "classification", positive=0.0)
        out.append([d.index for d in det.update(s.errors)])
    return type_, params, out


def is_default(type_: str, params: dict[str, Any]) -> bool:
    default = ADAPTER.validate_python({"type": type_}).model_dump()
    return all(default[k] == v for k, v in params.items())


def emit(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)


def summarise(type_: str, params: dict[str, Any], signals: list[list[int]]) -> dict[str, Any]:
    """Emit the JSON rows of one grid point; return its numbers for the summary table."""
    base = {"detector": type_, "params": params, "driftd_default": is_default(type_, params)}
    by_family: dict[str, list[tuple[Stream, list[int]]]] = {}
    for s, sig in zip(STREAMS, signals, strict=True):
        by_family.setdefault(s.family, []).append((s, sig))
    summary: dict[str, Any] = {}
    for family, runs in by_family.items():
        streams = [s for s, _ in runs]
        rate = float(np.mean([s.errors[: s.change].mean() for s in streams]))
        if streams[0].change is None:
            n_sig = sum(len(sig) for _, sig in runs)
            events = sum(s.errors.size for s in streams)
        else:
            n_sig = sum(sum(1 for i in sig if i < s.change) for s, sig in runs)
            events = sum(s.change for s in streams)
        fa = n_sig / events * 1e5
        emit({"name": "false_alarms_per_100k", "value": round(fa, 3),
              "unit": "signals per 100k stationary errors", **base, "stream": family,
              "part": "all" if streams[0].change is None else "pre_change",
              "error_rate": round(rate, 4), "signals": n_sig, "events": events,
              "runs": len(runs)})  # fmt: skip
        summary[(family, "fa")] = fa
        if streams[0].change is None:
            continue
        delays = []
        for s, sig in runs:
            after = [i for i in sig if i >= s.change]
            delays.append(after[0] - s.change + 1 if after else math.inf)
        post_rate = float(np.mean([s.errors[s.change :].mean() for s in streams]))
        detected = [d for d in delays if math.isfinite(d)]
        median = float(np.median(delays))
        common = {**base, "stream": family, "error_rate_before": round(rate, 4),
                  "error_rate_after": round(post_rate, 4), "runs": len(runs),
                  "detected": len(detected)}  # fmt: skip
        emit({"name": "detection_delay_median", "value": median if math.isfinite(median) else None,
              "unit": "events", **common})  # fmt: skip
        emit({"name": "detection_delay_mean_detected",
              "value": round(float(np.mean(detected)), 1) if detected else None,
              "unit": "events", **common})  # fmt: skip
        for w in WITHIN:
            share = sum(d <= w for d in delays) / len(delays)
            emit({"name": f"detected_within_{w}", "value": share, "unit": "fraction of runs",
                  **common, "within": w})  # fmt: skip
            summary[(family, w)] = share
        summary[(family, "median")] = median
    return summary


def fmt_params(type_: str, params: dict[str, Any]) -> str:
    text = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
    return text + (" (default)" if is_default(type_, params) else "")


def table(results: list[tuple[str, dict[str, Any], dict[Any, Any]]]) -> str:
    fams_fa = [f"bernoulli_{r:.2f}" for r in STATIONARY_RATES] + ["sea_tree", "sea_oracle"]
    fams_delay = [f"jump_{a:.2f}_{b:.2f}" for a, b in JUMPS]
    fams_delay += ["jump_{:.2f}_{:.2f}_long".format(*LONG_JUMP), "sea_tree", "sea_oracle"]
    head = ["setting"] + [f"FA {f}" for f in fams_fa]
    head += [f"{f} median / <=5k,20k,40k" for f in fams_delay]
    lines = []
    for type_ in GRID:
        lines += [f"\n### {type_}\n", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for t, params, s in results:
            if t != type_:
                continue
            cells = [fmt_params(t, params)] + [f"{s[(f, 'fa')]:.2f}" for f in fams_fa]
            for f in fams_delay:
                med = s[(f, "median")]
                med_s = f"{med:.0f}" if math.isfinite(med) else "-"
                shares = ",".join(f"{s[(f, w)]:.0%}" for w in WITHIN)
                cells.append(f"{med_s} / {shares}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="3 seeds, shorter streams")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--stationary-length", type=int, default=100_000)
    p.add_argument("--pre", type=int, default=20_000, help="pre-change events of the jumps")
    p.add_argument("--long-pre", type=int, default=100_000, help="pre-change, long jump")
    p.add_argument("--sea-pre", type=int, default=50_000, help="pre-change SEA events")
    p.add_argument("--post", type=int, default=40_000, help="post-change events")
    p.add_argument("--train", type=int, default=10_000, help="SEA events the tree learns")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.stationary_length, args.sea_pre = 3, 30_000, 20_000
        args.long_pre = 50_000
    start = time.perf_counter()
    STREAMS.extend(build_streams(args))
    emit({"name": "setup", "value": round(time.perf_counter() - start, 2), "unit": "s",
          "seeds": args.seeds, "stationary_length": args.stationary_length, "jump_pre": args.pre,
          "long_jump": LONG_JUMP, "long_jump_pre": args.long_pre, "sea_pre": args.sea_pre,
          "post": args.post, "sea_train": args.train, "sea_noise": SEA_NOISE,
          "stationary_rates": STATIONARY_RATES, "jumps": JUMPS,
          "streams": len(STREAMS)})  # fmt: skip
    jobs = [(t, params) for t, grid in GRID.items() for params in grid]
    jobs.sort(key=lambda j: j[0] not in ("hddm_w", "hddm_a"))  # slowest first, for balance
    results = []
    with mp.get_context("fork").Pool(args.jobs) as pool:
        for type_, params, signals in pool.imap_unordered(run_config, jobs):
            results.append((type_, params, summarise(type_, params, signals)))
    results.sort(key=lambda r: (list(GRID).index(r[0]), GRID[r[0]].index(r[1])))
    emit({"name": "runtime", "value": round(time.perf_counter() - start, 1), "unit": "s",
          "jobs": args.jobs, "grid_points": len(jobs)})  # fmt: skip
    print(table(results), file=sys.stderr)


if __name__ == "__main__":
    main()
