"""Reference profiles: built from real data shapes, round-tripped, corrupted files rejected."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftd.cli import main
from driftd.errors import ProfileError
from driftd.reference import BuildOptions, build_profile, describe, load_profile, save_profile
from driftd.reference.io import FORMAT

DATA = Path(__file__).resolve().parents[2] / "data"
CSV = DATA / "fraud_train.csv"


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    opts = BuildOptions(id_column="request_id", label="label", prediction="score")
    return build_profile(CSV, opts)


def test_types_missing_rates_and_domains_are_inferred(profile) -> None:  # type: ignore[no-untyped-def]
    assert profile.rows == 5000
    assert {n: f.type for n, f in profile.features.items()} == {
        "amount": "numeric",
        "age": "numeric",
        "tenure_days": "numeric",
        "country": "categorical",
        "device": "categorical",
        "merchant": "categorical",
        "score": "numeric",
    }
    import csv

    with CSV.open() as f:
        rows = list(csv.DictReader(f))
    assert profile.features["tenure_days"].missing == sum(r["tenure_days"] == "" for r in rows)
    raw = np.genfromtxt(CSV, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert profile.features["amount"].numeric.minimum == pytest.approx(raw["amount"].min())
    assert profile.features["amount"].numeric.maximum == pytest.approx(raw["amount"].max())
    device = profile.features["device"].categorical
    assert set(device.domain) == {"ios", "android", "web"}
    assert int(device.counts.sum()) == 5000 and device.counts[-1] == 0


def test_high_cardinality_categories_are_capped_with_other(profile) -> None:  # type: ignore[no-untyped-def]
    merchant = profile.features["merchant"].categorical
    assert len(merchant.domain) == 50
    assert merchant.counts[-1] > 0  # the "other" bucket holds the long tail
    assert int(merchant.counts.sum()) == 5000
    assert merchant.complete and len(merchant.known_other) > 0
    assert not set(merchant.known_other) & set(merchant.domain)


def test_bins_are_reference_quantiles(profile) -> None:  # type: ignore[no-untyped-def]
    amount = profile.features["amount"].numeric
    assert amount.edges.size == 9
    shares = amount.counts / amount.counts.sum()
    np.testing.assert_allclose(shares, 0.1, atol=0.01)
    assert np.all(np.diff(amount.sample) >= 0)


def test_reference_performance_from_label_and_prediction(profile) -> None:  # type: ignore[no-untyped-def]
    raw = np.genfromtxt(CSV, delimiter=",", names=True, dtype=None, encoding="utf-8")
    predicted = (raw["score"] >= 0.5).astype(int)
    assert profile.task == "classification"
    assert profile.performance["accuracy"] == pytest.approx((predicted == raw["label"]).mean())
    assert 0.5 < profile.performance["auc"] <= 1.0


def test_round_trip_is_identical(profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = save_profile(profile, tmp_path / "p.profile")
    loaded = load_profile(path)
    assert loaded.rows == profile.rows and loaded.performance == profile.performance
    for name, feat in profile.features.items():
        other = loaded.features[name]
        assert (other.type, other.count, other.missing) == (feat.type, feat.count, feat.missing)
        if feat.numeric is not None:
            for attr in ("edges", "counts", "sample"):
                np.testing.assert_array_equal(
                    getattr(other.numeric, attr), getattr(feat.numeric, attr)
                )
        else:
            assert other.categorical.domain == feat.categorical.domain
            np.testing.assert_array_equal(other.categorical.counts, feat.categorical.counts)


def test_committed_example_profile_matches_a_fresh_build(profile) -> None:  # type: ignore[no-untyped-def]
    committed = load_profile(DATA / "fraud.profile")
    for name, feat in profile.features.items():
        if feat.numeric is not None:
            np.testing.assert_array_equal(
                committed.features[name].numeric.edges, feat.numeric.edges
            )
        else:
            np.testing.assert_array_equal(
                committed.features[name].categorical.counts, feat.categorical.counts
            )


def test_parquet_and_jsonl_give_the_same_profile(tmp_path: Path, profile) -> None:  # type: ignore[no-untyped-def]
    table = pa.csv.read_csv(CSV) if hasattr(pa, "csv") else None
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(CSV)
    pq.write_table(table, tmp_path / "train.parquet")
    with (tmp_path / "train.jsonl").open("w") as f:
        for row in table.to_pylist():
            f.write(json.dumps(row) + "\n")
    opts = BuildOptions(id_column="request_id", label="label", prediction="score")
    for path in (tmp_path / "train.parquet", tmp_path / "train.jsonl"):
        other = build_profile(path, opts)
        np.testing.assert_array_equal(
            other.features["amount"].numeric.edges, profile.features["amount"].numeric.edges
        )
        assert other.features["country"].categorical.domain == (
            profile.features["country"].categorical.domain
        )


def test_type_override_and_exclusion(tmp_path: Path) -> None:
    opts = BuildOptions(types={"age": "categorical"}, exclude=frozenset({"merchant", "request_id"}))
    prof = build_profile(CSV, opts)
    assert prof.features["age"].type == "categorical"
    assert "merchant" not in prof.features and "request_id" not in prof.features


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(b"garbage"), r"not a driftd profile \(a text file beginning"),
        (lambda p: p.write_bytes(p.read_bytes()[:1000]), "do not match its checksum"),
        (lambda p: p.unlink(), "does not exist"),
    ],
)
def test_damaged_files_are_rejected(profile, tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    path = save_profile(profile, tmp_path / "p.profile")
    damage(path)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def _rewrite_meta(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["meta.json"].tobytes())
    change(meta, arrays)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with path.open("wb") as f:
        np.savez(f, **arrays)


def test_wrong_version_and_tampered_arrays_are_rejected(profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = save_profile(profile, tmp_path / "p.profile")
    _rewrite_meta(path, lambda meta, arrays: meta.update(version=99))
    with pytest.raises(ProfileError, match="version 99"):
        load_profile(path)
    path = save_profile(profile, tmp_path / "q.profile")

    def tamper(meta, arrays) -> None:  # type: ignore[no-untyped-def]
        arrays["f0.counts"] = arrays["f0.counts"] + 1

    _rewrite_meta(path, tamper)
    with pytest.raises(ProfileError, match="checksum"):
        load_profile(path)
    assert FORMAT == "driftd-profile"
    assert zipfile.is_zipfile(path)


def test_cli_build_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.profile"
    code = main(
        [
            "reference",
            "build",
            "--input",
            str(CSV),
            "--out",
            str(out),
            "--id",
            "request_id",
            "--label",
            "label",
            "--prediction",
            "score",
            "--quiet",
        ]
    )
    assert code == 0 and out.exists()
    assert main(["reference", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "merchant" in text and "50 categories" in text and "accuracy=" in text
    assert describe(load_profile(out)).splitlines()[0].startswith("profile of fraud_train.csv")


def test_missing_label_column_is_a_clear_error() -> None:
    with pytest.raises(ProfileError, match="label column 'y' not found"):
        build_profile(CSV, BuildOptions(label="y"))


@pytest.mark.parametrize(
    ("scores", "accuracy"),
    [
        ([0.1, 0.9, 0.9, 0.1], 1.0),  # a perfect model with two score values
        ([0.9, 0.1, 0.9, 0.1], 0.5),  # the same values, half wrong
        ([0.7, 0.7, 0.7, 0.7], 0.5),  # constant: every row "positive"
        ([0, 1, 1, 0], 1.0),  # hard 0/1 predictions read the same as scores
        ([0.5, 0.5, 0.49, 0.49], 0.5),  # at the threshold: exactly 0.5 is class 1
    ],
)
def test_reference_accuracy_is_right_for_any_score_column(
    scores: list[float], accuracy: float
) -> None:
    from driftd.reference.performance import reference_performance

    task, metrics = reference_performance([0, 1, 1, 0], scores)
    assert task == "classification"
    assert metrics["accuracy"] == accuracy
    # AUC by ranks, ties given half credit, agrees with scikit-learn's definition.
    positives = [s for s, y in zip(scores, [0, 1, 1, 0], strict=True) if y == 1]
    negatives = [s for s, y in zip(scores, [0, 1, 1, 0], strict=True) if y == 0]
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    assert metrics["auc"] == pytest.approx(sum(pairs) / len(pairs))
