"""A profile built from logged inference requests equals the one built from the flat rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from driftd.cli import main
from driftd.reference import load_profile
from driftd.synthetic import events

NAMES = ("amount", "age", "country")


def test_kserve_request_logs_build_the_flat_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = list(events(6000, seed=5))
    flat = tmp_path / "flat.jsonl"
    flat.write_text(
        "".join(
            json.dumps({**{k: r["features"][k] for k in NAMES}, "score": r["score"]}) + "\n"
            for r in rows
        )
    )
    logged = tmp_path / "requests.jsonl"
    with logged.open("w") as f:
        for lo in range(0, len(rows), 7):  # batches of 7 rows, in structured CloudEvents
            chunk = rows[lo : lo + 7]
            event = {
                "specversion": "1.0", "id": f"req-{lo}", "type": "request", "source": "kserve",
                "data": {"instances": [[r["features"][k] for k in NAMES] for r in chunk],
                         "predictions": [r["score"] for r in chunk]},
            }  # fmt: skip
            f.write(json.dumps(event) + "\n")
        f.write("not json\n")
    cfg = tmp_path / "driftd.yaml"
    cfg.write_text(
        """
kafka: {bootstrap_servers: ["k:1"]}
streams:
  - name: kserve
    topic: t
    protocol: kserve_v1
    fields:
      id: id
      prediction: prediction
      features: {amount: instance.0, age: instance.1, country: instance.2}
"""
    )
    out = tmp_path / "logged.profile"
    code = main(["reference", "build", "--input", str(logged), "--stream", "kserve",
                 "--driftd-config", str(cfg), "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "859 record(s), 6,000 row(s); refused: {'invalid_json': 1}" in err
    reference = tmp_path / "flat.profile"
    code = main(["reference", "build", "--input", str(flat), "--prediction", "score",
                 "--out", str(reference), "--quiet"])  # fmt: skip
    assert code == 0
    a, b = load_profile(out), load_profile(reference)
    assert a.rows == b.rows == 6000
    for name in ("amount", "age"):
        fa, fb = a.features[name].numeric, b.features[name].numeric
        assert fa is not None and fb is not None
        np.testing.assert_array_equal(fa.edges, fb.edges)
        np.testing.assert_array_equal(fa.counts, fb.counts)
    ca, cb = a.features["country"].categorical, b.features["country"].categorical
    assert ca is not None and cb is not None
    assert ca.domain == cb.domain
    np.testing.assert_array_equal(ca.counts, cb.counts)
    assert a.prediction == "prediction" and b.prediction == "score"
    pa, pb = a.features["prediction"].numeric, b.features["score"].numeric
    assert pa is not None and pb is not None
    np.testing.assert_array_equal(pa.edges, pb.edges)


def test_stream_needs_its_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.jsonl").write_text("{}\n")
    code = main(["reference", "build", "--input", str(tmp_path / "x.jsonl"), "--stream", "s",
                 "--out", str(tmp_path / "p")])  # fmt: skip
    assert code == 2
    assert "--stream needs --driftd-config" in capsys.readouterr().err
