"""A column of numbers with a few values that are not: reported, never silently categorical."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftd.cli import main
from driftd.errors import ProfileError
from driftd.reference import BuildOptions, build_profile, load_profile
from driftd.reference import build as build_module
from driftd.reference.build import MixedTypesError, Unparsed

DATA = Path(__file__).resolve().parents[2] / "data"
ROWS = 10_000
BAD_AT = 5_001  # 0-based index of the bad value: row 5,002 counting from 1


def _amounts(seed: int = 7, rows: int = ROWS) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{v:.3f}" for v in rng.lognormal(3.0, 1.0, rows)]


def _write(path: Path, columns: dict[str, list[object]]) -> Path:
    """The columns as CSV (every cell quoted as needed), Parquet (as given) or JSON lines."""
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows(["" if v is None else v for v in row] for row in rows)
    elif path.suffix == ".parquet":
        pq.write_table(pa.table({n: pa.array(v) for n, v in columns.items()}), path)
    else:
        with path.open("w") as f:
            for row in rows:
                f.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
    return path


def _one_bad(tmp_path: Path, suffix: str, bad: str = "12,5") -> Path:
    amounts: list[object] = list(_amounts())
    if suffix == ".jsonl":  # JSON carries real numbers, and one string among them
        amounts = [float(a) for a in amounts]  # type: ignore[arg-type]
    amounts[BAD_AT] = bad
    country = list(np.random.default_rng(8).choice(["GB", "FR", "DE"], ROWS))
    return _write(tmp_path / f"train{suffix}", {"amount": amounts, "country": country})


def _message(path: Path, detail: str, name: str = "amount", arg: str = "amount") -> str:
    return (
        f"{path}: column {name!r} looks numeric, but {detail}. Fix the data, or say what the "
        f"column is: --numeric {arg} (values that are not numbers count as missing) or "
        f"--categorical {arg} (every value is a category); in a --config file: "
        f"types: {{{name}: numeric}}"
    )


ONE_BAD = "1 of 10,000 non-missing values is not a number (first at row 5,002: '12,5')"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_one_bad_value_in_a_numeric_column_stops_the_build_with_the_count_and_first_row(
    tmp_path: Path, suffix: str
) -> None:
    path = _one_bad(tmp_path, suffix)
    notices: list[str] = []
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path, notice=notices.append)
    assert str(caught.value) == _message(path, ONE_BAD)
    assert caught.value.columns == {
        "amount": Unparsed(total=10_000, bad=1, first_row=5_002, first_value="12,5")
    }
    assert isinstance(caught.value, ProfileError)  # the CLI's exit code 2
    if suffix == ".jsonl":  # pyarrow refuses a field that is a number and a string
        assert len(notices) == 1 and notices[0].startswith(f"pyarrow cannot read {path} (")
        assert notices[0].endswith("reading it again with Python's json module, which is slower")
    else:
        assert notices == []


def test_the_row_counts_from_one_after_the_csv_header(tmp_path: Path) -> None:
    path = _one_bad(tmp_path, ".csv")
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path)
    row = caught.value.columns["amount"].first_row
    lines = path.read_text().splitlines()
    assert lines[row] == '"12,5",' + lines[row].split(",")[-1]  # line row + 1 of the file


def test_the_cli_exits_2_naming_the_way_out_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _one_bad(tmp_path, ".csv")
    out = tmp_path / "train.profile"
    assert main(["reference", "build", "--input", str(path), "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"driftd: profile error: {_message(path, ONE_BAD)}\n"
    assert captured.out == ""
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_numeric_counts_the_bad_values_as_missing_and_says_so(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _one_bad(tmp_path, suffix)
    out = tmp_path / "train.profile"
    args = ["reference", "build", "--input", str(path), "--out", str(out), "--quiet"]
    assert main([*args, "--numeric", "amount"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"driftd: column 'amount': {ONE_BAD}; counted as missing"
    assert len(err) == (2 if suffix == ".jsonl" else 1)
    amount = load_profile(out).features["amount"]
    good = np.array([float(a) for i, a in enumerate(_amounts()) if i != BAD_AT])
    assert (amount.type, amount.count, amount.missing) == ("numeric", 9_999, 1)
    assert amount.numeric is not None
    assert amount.numeric.minimum == good.min() and amount.numeric.maximum == good.max()
    assert amount.numeric.mean == pytest.approx(good.mean(), rel=1e-12)


def test_categorical_keeps_every_value_as_a_category(tmp_path: Path) -> None:
    notices: list[str] = []
    path = _one_bad(tmp_path, ".csv")
    profile = build_profile(
        path, BuildOptions(types={"amount": "categorical"}), notice=notices.append
    )
    amount = profile.features["amount"]
    assert amount.type == "categorical" and amount.categorical is not None
    assert int(amount.categorical.counts.sum()) == ROWS
    assert notices == []


def test_types_in_a_config_file_are_a_way_out_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _one_bad(tmp_path, ".parquet")
    config = tmp_path / "build.yaml"
    config.write_text("reference:\n  types: {amount: numeric}\n")
    out = tmp_path / "train.profile"
    code = main(["reference", "build", "--input", str(path), "--out", str(out)])
    assert code == 2
    code = main(
        ["reference", "build", "--input", str(path), "--out", str(out), "--config", str(config)]
    )
    assert code == 0
    assert load_profile(out).features["amount"].missing == 1
    err = capsys.readouterr().err
    assert err.endswith(f"driftd: column 'amount': {ONE_BAD}; counted as missing\n")


@pytest.mark.parametrize(
    ("numbers", "words", "outcome"),
    [
        (95, 5, "5 of 100 non-missing values are not numbers (first at row 96: 'w0')"),
        (94, 6, None),  # below 95 % numbers: a categorical column, built without a word
        (0, 100, None),
    ],
)
def test_the_threshold_is_95_percent_of_non_missing_values(
    tmp_path: Path, numbers: int, words: int, outcome: str | None
) -> None:
    values = [str(i) for i in range(numbers)] + [f"w{i}" for i in range(words)]
    values += [""] * 20  # missing cells: not counted either way
    path = _write(tmp_path / "t.csv", {"code": values})
    notices: list[str] = []
    if outcome is None:
        profile = build_profile(path, notice=notices.append)
        assert profile.features["code"].type == "categorical"
        assert notices == []
    else:
        with pytest.raises(MixedTypesError) as caught:
            build_profile(path)
        assert str(caught.value) == _message(path, outcome, "code", "code")


def test_genuinely_categorical_columns_build_without_a_notice() -> None:
    notices: list[str] = []
    opts = BuildOptions(id_column="request_id", label="label", prediction="score")
    profile = build_profile(DATA / "fraud_train.csv", opts, notice=notices.append)
    assert profile.features["country"].type == "categorical"
    assert profile.features["amount"].type == "numeric"
    assert notices == []


def test_a_parquet_text_column_of_only_numbers_stays_categorical(tmp_path: Path) -> None:
    # Zip codes written as text: every value is a number, the writer chose text; unchanged.
    codes = [f"{c:05d}" for c in np.random.default_rng(9).integers(0, 99_999, 1_000)]
    notices: list[str] = []
    profile = build_profile(_write(tmp_path / "z.parquet", {"zip": codes}), notice=notices.append)
    assert profile.features["zip"].type == "categorical"
    assert notices == []


def test_csv_missing_markers_are_missing_not_bad_values(tmp_path: Path) -> None:
    amounts: list[object] = list(_amounts())
    for i, marker in enumerate(["n/a", "NA", "N/A", "null", "NaN", None]):
        amounts[100 + i] = marker
    path = _write(tmp_path / "m.csv", {"amount": amounts})
    amount = build_profile(path).features["amount"]
    assert (amount.type, amount.count, amount.missing) == ("numeric", 9_994, 6)
    amounts[BAD_AT] = "12,5"  # now the column is read as text: the markers stay missing
    path = _write(tmp_path / "m.csv", {"amount": amounts})
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path)
    assert caught.value.columns["amount"] == Unparsed(9_994, 1, 5_002, "12,5")


def test_a_bad_value_past_the_first_block_rereads_the_column_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "BLOCK_BYTES", 4096)  # types inferred from ~400 rows
    amounts: list[object] = list(_amounts(rows=20_000))
    amounts[14_999] = "oops"
    path = _write(tmp_path / "late.csv", {"amount": amounts})
    notices: list[str] = []
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path, notice=notices.append)
    assert caught.value.columns["amount"] == Unparsed(20_000, 1, 15_000, "oops")
    reread = (
        f"column 'amount' of {path} holds 'oops' after its first rows; reading it again as text"
    )
    assert notices == [reread]
    notices.clear()
    profile = build_profile(path, BuildOptions(types={"amount": "numeric"}), notice=notices.append)
    assert (profile.features["amount"].count, profile.features["amount"].missing) == (19_999, 1)
    detail = "1 of 20,000 non-missing values is not a number (first at row 15,000: 'oops')"
    assert notices == [reread, f"column 'amount': {detail}; counted as missing"]


def test_a_fraction_past_the_first_block_of_integers_rereads_the_column_as_float(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "BLOCK_BYTES", 4096)
    counts: list[object] = [str(i) for i in range(20_000)]
    counts[17_999] = "1.5"
    path = _write(tmp_path / "ints.csv", {"n": counts})
    notices: list[str] = []
    n = build_profile(path, notice=notices.append).features["n"]
    assert notices == [
        f"column 'n' of {path} holds '1.5' after its first rows; reading it again as floating point"
    ]
    assert n.type == "numeric" and n.count == 20_000 and n.numeric is not None
    assert n.numeric.minimum == 0.0 and n.numeric.maximum == 19_999.0


def test_every_mixed_column_is_named_in_one_message(tmp_path: Path) -> None:
    amounts: list[object] = list(_amounts())
    amounts[3] = "12,5"
    ages: list[object] = [str(a) for a in np.random.default_rng(10).integers(18, 90, ROWS)]
    ages[10] = "unknown"
    ages[20] = "?"
    path = _write(tmp_path / "two.csv", {"amount": amounts, "age": ages})
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path)
    assert str(caught.value) == (
        f"{path}: 2 columns look numeric but hold values that are not numbers:\n"
        "  - 'amount': 1 of 10,000 non-missing values is not a number (first at row 4: '12,5')\n"
        "  - 'age': 2 of 10,000 non-missing values are not numbers (first at row 11: 'unknown')\n"
        "Fix the data, or say what each column is: --numeric COLUMN (values that are not "
        "numbers count as missing) or --categorical COLUMN (every value is a category); in a "
        "--config file: types: {COLUMN: numeric}"
    )


def test_a_column_name_is_quoted_for_the_shell_in_the_way_out(tmp_path: Path) -> None:
    amounts: list[object] = list(_amounts())
    amounts[BAD_AT] = "12,5"
    path = _write(tmp_path / "s.csv", {"unit price": amounts})
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path)
    assert str(caught.value) == _message(path, ONE_BAD, "unit price", "'unit price'")


def test_json_booleans_among_numbers_are_values_that_are_not_numbers(tmp_path: Path) -> None:
    values: list[object] = [float(a) for a in _amounts()]
    values[0] = True
    path = _write(tmp_path / "b.jsonl", {"amount": values})
    with pytest.raises(MixedTypesError) as caught:
        build_profile(path, notice=lambda _: None)
    assert caught.value.columns["amount"] == Unparsed(10_000, 1, 1, "true")


def test_a_line_that_is_not_json_is_named_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{oops}\n')
    with pytest.raises(ProfileError) as caught:
        build_profile(path, notice=lambda _: None)
    assert str(caught.value) == (
        f"{path}: line 3 is not valid JSON: Expecting property name enclosed in double quotes"
    )


def test_the_python_json_reader_builds_what_pyarrow_builds(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    values, letters = rng.normal(size=2_000), rng.choice(["a", "b"], 2_000)
    pairs = enumerate(zip(values, letters, strict=True))
    rows = [{"x": float(v), "n": i, "c": str(c)} for i, (v, c) in pairs]
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows[1_500]["x"] = "n/a"
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    opts = BuildOptions(types={"x": "numeric"})
    fast = build_profile(clean, opts)
    slow = build_profile(mixed, opts, notice=lambda _: None)  # read by Python's json module
    n_fast, n_slow = fast.features["n"].numeric, slow.features["n"].numeric
    assert n_fast is not None and n_slow is not None
    np.testing.assert_array_equal(n_fast.sample, n_slow.sample)
    np.testing.assert_array_equal(n_fast.edges, n_slow.edges)
    c_fast, c_slow = fast.features["c"].categorical, slow.features["c"].categorical
    assert c_fast is not None and c_slow is not None
    assert c_fast.domain == c_slow.domain
    np.testing.assert_array_equal(c_fast.counts, c_slow.counts)
    x = slow.features["x"]
    assert (x.type, x.count, x.missing) == ("numeric", 1_999, 1)


def test_the_python_json_reader_takes_exclusions_nested_values_and_huge_integers(
    tmp_path: Path,
) -> None:
    rows: list[dict[str, object]] = [
        {"id": f"r{i}", "x": i * 1.5, "meta": {"a": i}, "big": i} for i in range(100)
    ]
    rows[5]["x"] = "n/a"  # pyarrow refuses the file: Python's json module reads it
    rows[7]["big"] = 2**70  # beyond int64: read as a float
    path = tmp_path / "nested.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ProfileError) as caught:
        build_profile(path, BuildOptions(types={"x": "numeric"}), notice=lambda _: None)
    assert str(caught.value) == (
        f"{path}: column 'meta' holds JSON objects or lists, which are neither numeric nor "
        "categorical; exclude it (--exclude meta)"
    )
    opts = BuildOptions(types={"x": "numeric"}, exclude=frozenset({"meta"}), id_column="id")
    profile = build_profile(path, opts, notice=lambda _: None)
    assert set(profile.features) == {"x", "big"}
    big = profile.features["big"].numeric
    assert big is not None and big.maximum == float(2**70)
    assert (profile.features["x"].count, profile.features["x"].missing) == (99, 1)
