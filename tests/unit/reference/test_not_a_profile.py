"""A file that is not a driftd profile: one clear error and exit 2, in `reference show` and in
`check-config` alike; never numpy's advice to load it with allow_pickle, never a traceback."""

from __future__ import annotations

import io
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from driftd.cli import main
from driftd.errors import ProfileError
from driftd.reference import io as profile_io
from driftd.reference import load_profile

DATA = Path(__file__).resolve().parents[2] / "data"
PROFILE = DATA / "fraud.profile"
CONFIG = Path(__file__).resolve().parents[3] / "configs" / "full.yaml"


def _random(path: Path) -> None:
    path.write_bytes(np.random.default_rng(5).bytes(4096))


def _zip_of_text(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not arrays")
        archive.writestr("data/rows.csv", "a,b\n1,2\n")


def _pickled_npy(path: Path) -> None:
    with path.open("wb") as f:  # an object array: a pickle inside an .npy header
        np.save(f, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


def _npy(path: Path) -> None:
    with path.open("wb") as f:
        np.save(f, np.arange(10.0))


def _npz(path: Path) -> None:
    with path.open("wb") as f:
        np.savez(f, weights=np.ones(3), bias=np.zeros(1))


def _pickled_npz(path: Path) -> None:
    with path.open("wb") as f:
        np.savez(f, model=np.array([{"w": [1, 2]}], dtype=object))


def _pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))


CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("random.bin", _random, "not a zip archive: unknown binary data"),
    ("notes.txt", lambda p: p.write_text("hello\nworld\n"), "a text file beginning 'hello'"),
    (
        "train.csv",
        lambda p: shutil.copy(DATA / "fraud_train.csv", p),
        "a text file beginning 'request_id,amount,age,tenure_days,countr...'",
    ),
    (
        "driftd.yaml",
        lambda p: shutil.copy(CONFIG, p),
        "a text file beginning '# Every key driftd understands, with its...'",
    ),
    (
        "other.zip",
        _zip_of_text,
        "a zip archive of readme.txt, data/rows.csv, not of profile arrays",
    ),
    ("array.npy", _npy, "a single NumPy .npy array, not a profile archive"),
    ("objects.npy", _pickled_npy, "a single NumPy .npy array, not a profile archive"),
    (
        "model.npz",
        _npz,
        "a NumPy .npz archive of arrays weights, bias, without a profile's meta.json",
    ),
    (
        "objects.npz",
        _pickled_npz,
        "a NumPy .npz archive of arrays model, without a profile's meta.json",
    ),
    ("model.pkl", _pickle, "a Python pickle, which driftd never loads"),
    ("empty.profile", lambda p: p.write_bytes(b""), "the file is empty"),
]


def _expected(path: Path, what: str) -> str:
    return f"{path} is not a driftd profile ({what}); build one with `driftd reference build`"


def _check_config(tmp_path: Path, reference: Path) -> Path:
    config = tmp_path / "driftd.check.yaml"
    config.write_text(
        f"""
kafka:
  bootstrap_servers: ["127.0.0.1:9092"]
streams:
  - name: predictions
    topic: model.predictions
    fields:
      features: [features.amount, features.age]
      prediction: score
monitors:
  - name: fraud
    streams: [predictions]
    reference: {reference}
    features: [amount, age]
"""
    )
    return config


def _no_numpy_advice(text: str) -> None:
    assert "allow_pickle" not in text and "pickle.load" not in text
    assert "Traceback" not in text


@pytest.mark.parametrize(("name", "make", "what"), CASES, ids=[c[0] for c in CASES])
def test_load_profile_says_what_the_file_is(
    tmp_path: Path, name: str, make: Callable[[Path], None], what: str
) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == _expected(path, what)
    _no_numpy_advice(str(caught.value))


@pytest.mark.parametrize(("name", "make", "what"), CASES, ids=[c[0] for c in CASES])
def test_reference_show_and_check_config_exit_2_with_the_same_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    name: str,
    make: Callable[[Path], None],
    what: str,
) -> None:
    path = tmp_path / name
    make(path)
    expected = f"driftd: profile error: {_expected(path, what)}\n"
    assert main(["reference", "show", str(path)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", expected)
    config = _check_config(tmp_path, path)
    assert main(["check-config", "-c", str(config)]) == 2
    captured = capsys.readouterr()
    # The same message, after the config key that names the file.
    keyed = f"driftd: profile error: monitors[0].reference (fraud): {_expected(path, what)}\n"
    assert (captured.out, captured.err) == ("", keyed)
    _no_numpy_advice(captured.err)
    assert "no file checksum" not in caplog.text  # no advice meant for old profiles either


def test_check_config_accepts_the_real_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _check_config(tmp_path, PROFILE)
    assert main(["check-config", "-c", str(config)]) == 0
    assert capsys.readouterr().out == f"{config}: ok (1 stream(s), 1 monitor(s))\n"


def test_a_directory_is_not_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "show", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"driftd: profile error: {tmp_path} is a directory, not a driftd profile\n"
    )


def test_bytes_before_an_old_profile_never_reach_numpys_pickle_advice(tmp_path: Path) -> None:
    # np.load takes bytes that do not start as a zip for a pickle and, with allow_pickle=False,
    # answers "This file contains pickled (object) data. If you trust the file you can load it
    # unsafely using the `allow_pickle=` keyword argument": profiles are read without np.load.
    raw = PROFILE.read_bytes()
    legacy = raw[: -profile_io._SEAL - 2] + b"\0\0"  # the zip without its checksum comment
    for prefix in (b"#!/bin/sh\n", np.random.default_rng(6).bytes(64)):
        path = tmp_path / "prefixed.profile"
        path.write_bytes(prefix + legacy)
        with pytest.raises(ProfileError) as caught:
            load_profile(path)
        assert str(caught.value) == (
            f"{path} is not an intact driftd profile: other bytes come before its archive "
            "(corrupted)"
        )
        path.write_bytes(prefix + raw)  # a sealed profile: its checksum catches it first
        with pytest.raises(ProfileError, match="its bytes do not match its checksum"):
            load_profile(path)


def test_an_npz_whose_meta_json_is_not_a_profiles_is_refused_without_old_file_advice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A driftd checkpoint (monitors.npz) has a meta.json too; it is still not a profile.
    buffer = io.BytesIO()
    meta = np.frombuffer(b'{"monitors": {}}', dtype=np.uint8)
    np.savez(buffer, **{"meta.json": meta, "m0.counts": np.zeros(3, np.int64)})
    path = tmp_path / "monitors.npz"
    path.write_bytes(buffer.getvalue())
    with caplog.at_level("WARNING"), pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path} is not a driftd profile (its meta.json is not a profile's)"
    assert "no file checksum" not in caplog.text


def test_pickled_members_in_an_old_style_profile_are_refused_by_dtype(tmp_path: Path) -> None:
    # Once a file looks like a profile (its first member is a profile array), object arrays
    # inside are refused by their header, before numpy could unpickle anything.
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    path = tmp_path / "crafted.profile"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("f0.sample.npy", buffer.getvalue())
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: array 'f0.sample.npy' has dtype |O"
    _no_numpy_advice(str(caught.value))
