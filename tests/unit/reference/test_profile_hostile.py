"""Hostile and corrupted profiles: one clear ProfileError, never a traceback or a huge alloc."""

from __future__ import annotations

import contextlib
import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest

from driftd.errors import ProfileError
from driftd.reference import load_profile

PROFILE = Path(__file__).resolve().parents[2] / "data" / "fraud.profile"


def _load_or_error(path: Path) -> None:
    with contextlib.suppress(ProfileError):
        load_profile(path)


def test_single_byte_flips_never_escape_as_anything_but_profile_errors(tmp_path: Path) -> None:
    raw = PROFILE.read_bytes()
    rng = random.Random(11)
    # Every byte of the zip directory and headers (the end of the file), a sample elsewhere.
    positions = sorted(
        set(range(max(0, len(raw) - 3000), len(raw))) | set(rng.sample(range(len(raw)), 1500))
    )
    path = tmp_path / "flipped.profile"
    for pos in positions:
        data = bytearray(raw)
        data[pos] ^= 0xFF
        path.write_bytes(bytes(data))
        _load_or_error(path)  # anything else fails the test


def _zip(tmp_path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    path = tmp_path / "crafted.profile"
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _npy(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, arr, allow_pickle=False)
    return out.getvalue()


def test_a_declared_shape_larger_than_the_data_is_refused_before_allocating(
    tmp_path: Path,
) -> None:
    header = _npy(np.zeros(4))
    # Rewrite the shape to 10^11 float64s (745 GiB) while the data stays 32 bytes.
    forged = header.replace(b"(4,)", b"(100000000000,)".ljust(4))
    path = _zip(tmp_path, {"f0.sample.npy": forged, "meta.json.npy": _npy(np.zeros(1, np.uint8))})
    with pytest.raises(ProfileError, match="declares"):
        load_profile(path)


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = _npy(np.zeros(50_000_000 // 8))  # 50 MB of zeros, a few KB compressed
    path = _zip(tmp_path, {"f0.sample.npy": bomb}, compress=True)
    with pytest.raises(ProfileError, match="expands"):
        load_profile(path)


def test_object_arrays_and_foreign_members_are_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path, {"f0.sample.npy": _npy(np.array(["a", "b"]))})
    with pytest.raises(ProfileError, match="dtype"):
        load_profile(path)
    path = _zip(tmp_path, {"evil.py": b"import os"})
    with pytest.raises(ProfileError, match=r"is not a driftd profile \(a zip archive of evil\.py"):
        load_profile(path)
    path = _zip(tmp_path, {"f0.sample.npy": _npy(np.zeros(2)), "evil.py": b"import os"})
    with pytest.raises(ProfileError, match=r"member 'evil\.py' is not a profile array"):
        load_profile(path)


def test_a_valid_checksum_over_malformed_summaries_is_still_refused(tmp_path: Path) -> None:
    from dataclasses import replace

    from driftd.reference import save_profile

    profile = load_profile(PROFILE)
    age = profile.features["age"]
    assert age.numeric is not None
    broken = replace(age, numeric=replace(age.numeric, edges=age.numeric.edges[::-1].copy()))
    bad = replace(profile, features={**profile.features, "age": broken})
    path = save_profile(bad, tmp_path / "bad.profile")  # a correct checksum over bad data
    with pytest.raises(ProfileError, match="numeric summary of 'age' is malformed"):
        load_profile(path)


def test_any_flipped_byte_is_refused_by_the_file_checksum_before_parsing(tmp_path: Path) -> None:
    raw = PROFILE.read_bytes()
    rng = random.Random(12)
    # The zip directory and the trailer (the last 600 bytes) whole, a sample of the rest.
    positions = set(range(len(raw) - 600, len(raw))) | set(rng.sample(range(len(raw)), 600))
    path = tmp_path / "flipped.profile"
    for pos in sorted(positions):
        data = bytearray(raw)
        data[pos] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(ProfileError, match="do not match its checksum"):
            load_profile(path)


def test_a_truncated_profile_is_one_clear_error(tmp_path: Path) -> None:
    raw = PROFILE.read_bytes()
    path = tmp_path / "truncated.profile"
    for keep in (10, len(raw) // 2, len(raw) - 40, len(raw) - 1):
        path.write_bytes(raw[:keep])
        with pytest.raises(ProfileError, match=r"checksum|not a readable"):
            load_profile(path)
    path.write_bytes(b"")
    with pytest.raises(ProfileError, match=r"is not a driftd profile \(the file is empty\)"):
        load_profile(path)


def test_a_profile_from_before_the_file_checksum_loads_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from driftd.reference import io as profile_io

    raw = PROFILE.read_bytes()
    legacy = raw[: -profile_io._SEAL - 2] + b"\0\0"  # the same zip without its comment
    path = tmp_path / "legacy.profile"
    path.write_bytes(legacy)
    with caplog.at_level("WARNING"):
        profile = load_profile(path)
    assert profile.rows == load_profile(PROFILE).rows
    assert "has no file checksum" in caplog.text
