"""Avro container files as training data: the same profile as the same rows in JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import numpy as np
import pytest

from driftd.cli import main
from driftd.reference import load_profile
from driftd.synthetic import events

SCHEMA = {
    "type": "record",
    "name": "Prediction",
    "fields": [
        {"name": "request_id", "type": "string"},
        {"name": "features", "type": {"type": "record", "name": "Features", "fields": [
            {"name": "amount", "type": "double"},
            {"name": "age", "type": "long"},
            {"name": "tenure_days", "type": ["null", "long"]},
            {"name": "country", "type": {"type": "enum", "name": "Country",
                                         "symbols": ["DE", "FR", "GB", "US", "ES", "IT", "NL",
                                                     "PL"]}},
        ]}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "score", "type": "float"},
        {"name": "label", "type": "int"},
    ],
}  # fmt: skip


def test_an_avro_file_builds_the_profile_of_its_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(events(5000, seed=8))
    records = [
        {"request_id": r["request_id"], "ts": r["ts"], "tags": ["a"], "score": r["score"],
         "label": r["label"],
         "features": {k: r["features"][k] for k in ("amount", "age", "tenure_days", "country")}}
        for r in rows
    ]  # fmt: skip
    avro = tmp_path / "train.avro"
    with avro.open("wb") as f:
        fastavro.writer(f, fastavro.parse_schema(SCHEMA), records)
    flat = tmp_path / "train.jsonl"
    flat.write_text(
        "".join(
            json.dumps({f"features.{k}": v for k, v in rec["features"].items()}
                       | {"request_id": rec["request_id"], "score": rec["score"],
                          "label": rec["label"]}) + "\n"
            for rec in records
        )
    )  # fmt: skip
    args = ["--id", "request_id", "--label", "label", "--prediction", "score", "--quiet"]
    assert main(["reference", "build", "--input", str(avro), "--out", str(tmp_path / "a.p"),
                 "--exclude", "ts", "--exclude", "tags", *args]) == 0  # fmt: skip
    assert main(["reference", "build", "--input", str(flat), "--out", str(tmp_path / "b.p"),
                 *args]) == 0  # fmt: skip
    a, b = load_profile(tmp_path / "a.p"), load_profile(tmp_path / "b.p")
    assert sorted(a.features) == sorted(b.features)
    assert "features.country" in a.features and "tags" not in a.features
    for name, fa in a.features.items():
        fb = b.features[name]
        assert fa.type == fb.type and fa.missing == fb.missing, name
        if fa.numeric is not None and fb.numeric is not None:
            # score is a float32 in the Avro file: its edges agree to float32 precision.
            np.testing.assert_allclose(fa.numeric.edges, fb.numeric.edges, rtol=1e-6)
        elif fa.categorical is not None and fb.categorical is not None:
            assert fa.categorical.domain == fb.categorical.domain
            np.testing.assert_array_equal(fa.categorical.counts, fb.categorical.counts)
    assert a.performance.keys() == b.performance.keys()


def test_a_file_that_is_not_avro_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.avro"
    bad.write_bytes(b"not avro at all")
    assert main(["reference", "build", "--input", str(bad), "--out", str(tmp_path / "p")]) == 2
    assert "not an Avro container file" in capsys.readouterr().err
