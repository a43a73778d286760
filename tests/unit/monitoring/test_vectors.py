"""Vector features (embeddings): built into a bounded profile from JSONL lists, monitored by
PCA reconstruction and the classifier test, hostile values counted as schema anomalies, and the
same verdicts for batches of 1, 100 and 20,000."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftd.config import parse_config
from driftd.records import State, Verdict
from driftd.reference.build import BuildOptions, build_profile
from driftd.reference.io import load_profile, save_profile
from driftd.reference.vectors import VECTOR_VALUES, VectorReservoir
from tests.processing import run_stream

DIM = 48
WINDOW = 1000
BASIS = np.random.default_rng(0).normal(size=(6, DIM))


def _embeddings(n: int, seed: int, drift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, 6)) @ BASIS + 0.3 * rng.normal(size=(n, DIM))
    if drift:
        # A new direction of variation, each dimension's spread nearly unchanged.
        direction = np.random.default_rng(99).normal(size=DIM)
        rows += drift * rng.normal(size=(n, 1)) * direction / np.linalg.norm(direction) * 3
    return rows


def _event(row: np.ndarray, amount: float) -> dict[str, Any]:
    return {"emb": [round(float(v), 5) for v in row], "amount": amount}


@pytest.fixture(scope="module")
def profile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("vectors")
    rng = np.random.default_rng(1)
    lines = [json.dumps(_event(row, float(rng.normal()))) for row in _embeddings(20_000, seed=1)]
    (where / "train.jsonl").write_text("\n".join(lines) + "\n")
    profile = build_profile(where / "train.jsonl", BuildOptions())
    return save_profile(profile, where / "train.profile")


def _config(profile: Path) -> Any:
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: p
    topic: t
    fields:
      features: {{emb: emb, amount: amount}}
monitors:
  - name: m
    streams: [p]
    reference: {profile}
    prediction_drift: false
    window: {{type: count, size: {WINDOW}}}
""",
        env={},
    )


def _run(profile: Path, values: Sequence[bytes], batch: int) -> list[Verdict]:
    return run_stream(_config(profile), values, batch)


def _values(rows: np.ndarray, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [json.dumps(_event(r, float(rng.normal()))).encode() for r in rows]


def test_the_profile_keeps_a_bounded_sample_and_a_basis(profile_path: Path) -> None:
    emb = load_profile(profile_path).features["emb"]
    assert emb.type == "vector" and emb.vector is not None
    assert emb.vector.dim == DIM and emb.count == 20_000 and emb.missing == 0
    joint = emb.vector.joint
    assert joint.sample.shape == (10_000, DIM)
    assert 1 <= joint.components.shape[0] <= 32


def test_a_new_direction_is_caught_and_a_calm_window_is_not(profile_path: Path) -> None:
    values = _values(np.vstack([_embeddings(WINDOW, 2), _embeddings(WINDOW, 3, drift=1.0)]), 4)
    verdicts = [v for v in _run(profile_path, values, 250) if v.feature == "emb"]
    states = {(v.window_index, v.statistic): v.state for v in verdicts if v.kind != "schema"}
    assert states == {
        (0, "pca"): State.OK,
        (0, "classifier"): State.OK,
        (1, "pca"): State.DRIFT,
        (1, "classifier"): State.DRIFT,
    }


def test_batches_of_1_100_and_20000_give_the_same_vector_verdicts(profile_path: Path) -> None:
    values = _values(np.vstack([_embeddings(1200, 5), _embeddings(1200, 6, drift=0.5)]), 7)

    def key(v: Verdict) -> tuple[Any, ...]:
        return (v.window_index, v.feature, v.statistic, v.value, v.limit, v.state, v.detail)

    whole = [key(v) for v in _run(profile_path, values, 20_000)]
    for batch in (1, 100):
        assert [key(v) for v in _run(profile_path, values, batch)] == whole


HOSTILE: list[Any] = [
    None,
    "[1, 2]",
    [1.0] * (DIM - 1),
    [1.0] * (DIM + 1),
    [True] * DIM,
    [None] * DIM,
    [{"a": 1}] * DIM,
    [10**400] * DIM,
    {"emb": [1.0] * DIM},
    3.5,
    [],
]


def test_hostile_values_are_schema_anomalies_never_a_crash(profile_path: Path) -> None:
    rows = _embeddings(WINDOW, 8)
    values = []
    for i, raw in enumerate(_values(rows, 9)):
        hostile = {"emb": HOSTILE[(i // 10) % len(HOSTILE)], "amount": 1.0}
        values.append(json.dumps(hostile).encode() if i % 10 == 0 else raw)
    verdicts = _run(profile_path, values, 333)
    schema = next(v for v in verdicts if v.feature == "emb" and v.statistic == "schema")
    assert schema.value == pytest.approx(0.1) and schema.state is State.DRIFT
    assert "wrong_type=" in schema.detail and "missing=" in schema.detail
    pca = next(v for v in verdicts if v.feature == "emb" and v.statistic == "pca")
    assert pca.state is State.OK  # the 900 usable rows are judged, the rest left out


def test_parquet_list_columns_build_the_same_kind_of_profile(tmp_path: Path) -> None:
    rows = _embeddings(3000, 10)
    table = pa.table({"emb": pa.array(rows.tolist(), type=pa.list_(pa.float32()))})
    pq.write_table(table, tmp_path / "t.parquet")
    emb = build_profile(tmp_path / "t.parquet").features["emb"]
    assert emb.type == "vector" and emb.vector is not None and emb.vector.dim == DIM


def test_the_reservoir_is_bounded_and_uniform() -> None:
    dim = 1024
    reservoir = VectorReservoir("e", seed=3)
    marker = []
    for batch in range(30):
        rows = np.random.default_rng(batch).normal(size=(1000, dim))
        rows[:, 0] = batch  # which batch a kept row came from
        marker.append(batch)
        reservoir.add(pa.array(rows.tolist(), type=pa.list_(pa.float64())))
    assert reservoir.kept.shape == (2 * (VECTOR_VALUES // dim), dim)
    assert reservoir.count == 30_000
    kept_from = reservoir.kept[:, 0]
    counts = np.bincount(kept_from.astype(np.int64), minlength=30)
    expected = reservoir.kept.shape[0] / 30
    # Uniform over batches: every batch near its share (chi-square, 29 degrees of freedom).
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 58.3  # the 0.999 quantile
