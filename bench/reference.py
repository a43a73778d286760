"""`driftd reference build` on a large file: time, rows/s and peak memory.

Writes a Parquet file of N rows × 50 columns (40 numeric with missing values, 10 categorical,
two of them high-cardinality), builds a profile in a child process and reports its peak RSS.
The baseline, measured in the same run, is pandas-free numpy: loading the same columns with
pyarrow into one float64 matrix (the least any exact-quantile profiler must hold).
Prints one JSON object per line: name, n, value, unit, baseline, ratio.

    python bench/reference.py [--rows 1000000]
    python bench/reference.py --rows 1000000 4000000   # and the growth of the peak RSS
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    writer = None
    chunk = 200_000
    for lo in range(0, rows, chunk):
        n = min(chunk, rows - lo)
        cols: dict[str, pa.Array] = {}
        for j in range(40):
            x = rng.normal(j, 1 + j / 7, size=n)
            x[rng.random(n) < 0.02] = np.nan
            cols[f"n{j}"] = pa.array(x, from_pandas=True)
        for j in range(8):
            cols[f"c{j}"] = pa.array(rng.choice([f"v{k}" for k in range(12)], size=n))
        for j in range(2):
            cols[f"h{j}"] = pa.array(np.char.add("id", rng.zipf(1.3, size=n).astype(str)))
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


CHILD_BUILD = """
import resource, sys, time
from driftd.reference import build_profile, save_profile
t = time.perf_counter()
profile = build_profile(sys.argv[1])
save_profile(profile, sys.argv[2])
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

CHILD_BASELINE = """
import resource, sys, time
import numpy as np, pyarrow.parquet as pq
t = time.perf_counter()
table = pq.read_table(sys.argv[1], columns=[f"n{j}" for j in range(40)])
matrix = np.column_stack([c.to_numpy() for c in table.columns])
np.nanquantile(matrix[:, :4], [0.1, 0.5, 0.9], axis=0)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _child(code: str, *args: str) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    seconds, rss = out.stdout.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args()
    peaks = [_measure(n) for n in args.rows]
    if len(peaks) > 1:
        # Flat memory: the peak at the largest size over that at the smallest.
        print(json.dumps({
            "name": "reference_build_peak_rss_growth", "n": args.rows[-1],
            "value": round(peaks[-1] / peaks[0], 3), "unit": "ratio",
            "baseline": args.rows[0], "ratio": round(peaks[-1] / peaks[0], 3),
        }), flush=True)  # fmt: skip


def _measure(n: int) -> int:
    """Build a profile of ``n`` rows; print its rows; return the build's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.parquet"
        _write(data, n)
        seconds, rss = _child(CHILD_BUILD, str(data), str(Path(tmp) / "big.profile"))
        base_s, base_rss = _child(CHILD_BASELINE, str(data))
        size = (Path(tmp) / "big.profile").stat().st_size
    rows = [
        {
            "name": "reference_build_seconds",
            "n": n,
            "value": round(seconds, 2),
            "unit": "s",
            "baseline": round(base_s, 2),
            "ratio": round(base_s / seconds, 3),
            "columns": 50,
        },
        {
            "name": "reference_build_rows_per_second",
            "n": n,
            "value": round(n / seconds),
            "unit": "rows/s",
            "baseline": round(n / base_s),
            "ratio": round(base_s / seconds, 3),
        },
        {
            "name": "reference_build_peak_rss",
            "n": n,
            "value": rss,
            "unit": "bytes",
            "baseline": base_rss,
            "ratio": round(base_rss / rss, 3),
        },
        {
            "name": "reference_profile_size",
            "n": n,
            "value": size,
            "unit": "bytes",
            "baseline": None,
            "ratio": None,
        },
    ]

    for row in rows:
        print(json.dumps(row), flush=True)
    return rss


if __name__ == "__main__":
    main()
