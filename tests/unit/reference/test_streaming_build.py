"""Reference build beyond the reservoir: exact counts, range, mean and spread from streaming
and a second pass; edges from the reservoir within their rank error; the same profile as the
whole-column build while everything fits; the reservoir uniform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detectors import bin_counts
from driftd.reference import streaming
from driftd.reference.build import BuildOptions, build_profile
from driftd.reference.streaming import NumericStream, Reservoir


def _data(tmp_path: Path, rows: int) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.lognormal(size=rows)
    x[rng.random(rows) < 0.05] = np.nan
    y = rng.normal(size=rows)
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"x": x, "y": y, "c": rng.choice(["a", "b"], rows)}), path)
    return path, x


def test_beyond_the_reservoir_counts_and_moments_stay_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, x = _data(tmp_path, 30_000)
    monkeypatch.setattr(streaming, "QUANTILE_SAMPLE", 2_000)
    options = BuildOptions(batch_rows=4_096, ks_sample_size=500)
    feat = build_profile(path, options).features["x"]
    num = feat.numeric
    assert num is not None
    finite = x[np.isfinite(x)]
    assert feat.count == finite.size and feat.missing == x.size - finite.size
    assert num.minimum == finite.min() and num.maximum == finite.max()
    assert num.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert num.std == pytest.approx(finite.std(), rel=1e-10)
    # Counts are exact on the edges it chose; the edges sit near the true deciles.
    np.testing.assert_array_equal(num.counts, bin_counts(finite, num.edges))
    ranks = np.searchsorted(np.sort(finite), num.edges) / finite.size
    np.testing.assert_allclose(ranks, np.arange(1, 10) / 10, atol=0.035)  # 2,000-value sample
    assert num.sample.size == 500 and np.all(np.isin(num.sample, finite))


def test_while_everything_fits_it_is_the_whole_column_summary(tmp_path: Path) -> None:
    path, x = _data(tmp_path, 30_000)
    num = build_profile(path, BuildOptions(batch_rows=4_096)).features["x"].numeric
    assert num is not None
    finite = x[np.isfinite(x)]
    np.testing.assert_array_equal(num.edges, np.unique(num.edges))
    assert num.mean == float(finite.mean()) and num.std == float(finite.std())
    np.testing.assert_array_equal(num.counts, bin_counts(finite, num.edges))


def test_numeric_stream_moments_match_numpy_over_any_batching() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(5.0, 3.0, size=10_001)
    values[::7] = np.nan
    stream = NumericStream(rng, capacity=100)
    for chunk in np.array_split(values, 37):
        stream.add(chunk)
    finite = values[np.isfinite(values)]
    assert stream.count == finite.size and not stream.exact
    assert stream.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert stream.std == pytest.approx(finite.std(), rel=1e-12)


def test_the_reservoir_is_uniform_over_rows() -> None:
    hits = np.zeros(10)
    for trial in range(200):
        reservoir = Reservoir(50, None, np.random.default_rng(trial))
        for batch in range(10):
            reservoir.add(np.full(100, float(batch)))
        hits += np.bincount(reservoir.values().astype(np.int64), minlength=10)
    # 10,000 kept rows over 10 equal batches: each batch's share near 1/10 (chi-square, 9 df).
    expected = hits.sum() / 10
    assert float(((hits - expected) ** 2 / expected).sum()) < 27.9  # the 0.999 quantile
