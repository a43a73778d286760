"""The profile file format: one ``.npz`` holding JSON metadata and the arrays; no pickle.

Layout (format ``driftd-profile``, version 1):

- ``meta.json``: a uint8 array of UTF-8 JSON with ``format``, ``version``, ``rows``,
  ``created_at``, ``source``, ``prediction``, ``label``, ``task``, ``performance``, a
  ``checksum`` (SHA-256 over every array's name, dtype, shape and bytes) and ``features``:
  a list of ``{name, type, count, missing, ...}``; numeric features add ``minimum``,
  ``maximum``, ``mean``, ``std``; categorical ones add ``domain``,
  ``known_other`` (training categories counted in "other") and ``complete``.
- ``f{i}.edges``, ``f{i}.counts``, ``f{i}.sample`` for numeric feature ``i``;
  ``f{i}.counts`` for categorical feature ``i`` (last entry: the "other" bin).

The zip archive's comment (the file's last bytes) holds ``driftd-sha256:`` and the SHA-256 of
every byte before it, checked before anything is parsed, so a corrupted file is refused with
one message instead of failing somewhere inside zip or npy parsing. (Files written before the
trailer existed still load, with a warning, on the array checksum.)

Files are written to a temporary name, fsynced and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from driftd.errors import ProfileError
from driftd.reference.profile import (
    CategoricalSummary,
    FeatureProfile,
    NumericSummary,
    Profile,
)

log = logging.getLogger(__name__)

FORMAT = "driftd-profile"
VERSION = 1


def save_profile(profile: Profile, path: str | Path) -> Path:
    """Write ``profile`` atomically to ``path``."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    features: list[dict[str, Any]] = []
    for i, feat in enumerate(profile.features.values()):
        entry: dict[str, Any] = {
            "name": feat.name,
            "type": feat.type,
            "count": feat.count,
            "missing": feat.missing,
        }
        if feat.numeric is not None:
            num = feat.numeric
            arrays[f"f{i}.edges"] = np.ascontiguousarray(num.edges, dtype=np.float64)
            arrays[f"f{i}.counts"] = np.ascontiguousarray(num.counts, dtype=np.int64)
            arrays[f"f{i}.sample"] = np.ascontiguousarray(num.sample, dtype=np.float64)
            entry |= {
                "minimum": num.minimum,
                "maximum": num.maximum,
                "mean": num.mean,
                "std": num.std,
            }
        if feat.categorical is not None:
            arrays[f"f{i}.counts"] = np.ascontiguousarray(feat.categorical.counts, dtype=np.int64)
            entry["domain"] = list(feat.categorical.domain)
            entry["known_other"] = list(feat.categorical.known_other)
            entry["complete"] = feat.categorical.complete
        features.append(entry)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "rows": profile.rows,
        "created_at": profile.created_at,
        "source": profile.source,
        "prediction": profile.prediction,
        "label": profile.label,
        "task": profile.task,
        "performance": profile.performance,
        "checksum": _checksum(arrays),
        "features": features,
    }
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    fd, tmp = tempfile.mkstemp(prefix=".profile-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_sealed(buffer.getvalue()))
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; a profile is not secret and is often read by another user.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_TRAILER = b"driftd-sha256:"
_SEAL = len(_TRAILER) + 64  # the zip comment: the marker and a hex SHA-256
_EOCD = b"PK\x05\x06"  # zip end-of-central-directory signature; its record is 22 bytes


def _sealed(archive: bytes) -> bytes:
    """``archive`` (a zip without comment) with a comment holding the digest of what
    precedes it; the comment's length field, being before it, is covered too."""
    if archive[-22:-18] != _EOCD or archive[-2:] != b"\0\0":
        raise ValueError("expected a zip archive without comment")
    head = archive[:-2] + _SEAL.to_bytes(2, "little")
    return head + _TRAILER + hashlib.sha256(head).hexdigest().encode()


def _unsealed(path: Path, data: bytes) -> bool:
    """Check the trailer's digest over the raw bytes; False for a file from before the
    trailer (a zip without comment). Anything else is refused: a damaged or cut trailer."""
    if len(data) >= 22 and data[-22:-18] == _EOCD and data[-2:] == b"\0\0":
        return False
    seal = data[-_SEAL:]
    intact = (
        len(data) >= _SEAL + 22
        and seal.startswith(_TRAILER)
        and data[-_SEAL - 2 : -_SEAL] == _SEAL.to_bytes(2, "little")
    )
    if not intact or hashlib.sha256(data[:-_SEAL]).hexdigest().encode() != seal[len(_TRAILER) :]:
        raise ProfileError(
            f"{path} is not an intact driftd profile: its bytes do not match its checksum "
            "(corrupted or truncated); rebuild it with `driftd reference build`"
        )
    return True


# Bounds checked from the file's own headers before anything is allocated.
MAX_FILE_BYTES = 2 << 30
MAX_ARRAY_BYTES = 1 << 30
MAX_EXPANSION = 200  # uncompressed / compressed size of one member: more is a zip bomb
_DTYPES = {"<f8", "<i8", "|u1"}


def _inspect(path: Path, data: bytes) -> None:
    """Refuse a file whose zip directory or array headers promise what it cannot hold."""
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename
            if not name.endswith(".npy") or info.file_size > MAX_ARRAY_BYTES:
                raise ProfileError(f"{path}: member {name!r} is not a profile array")
            if info.compress_size and info.file_size / info.compress_size > MAX_EXPANSION:
                raise ProfileError(f"{path}: member {name!r} expands {MAX_EXPANSION}x or more")
            total += info.file_size
            with archive.open(info) as f:
                major, _ = np.lib.format.read_magic(f)
                read = (
                    np.lib.format.read_array_header_1_0
                    if major == 1
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(f)
                header = f.tell()
            if dtype.hasobject or dtype.str not in _DTYPES:
                raise ProfileError(f"{path}: array {name!r} has dtype {dtype.str}")
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if declared != info.file_size - header:
                raise ProfileError(
                    f"{path}: array {name!r} declares {declared} bytes but holds "
                    f"{info.file_size - header}"
                )
    if total > MAX_FILE_BYTES:
        raise ProfileError(f"{path}: arrays add up to more than {MAX_FILE_BYTES >> 30} GiB")


def load_profile(path: str | Path) -> Profile:
    """Read a profile; a missing, corrupted, hostile or other-version file raises
    ProfileError (one message, never a traceback)."""
    path = Path(path)
    if not path.exists():
        raise ProfileError(
            f"reference profile {path} does not exist (build one with `driftd reference build`)"
        )
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProfileError(f"{path} is larger than {MAX_FILE_BYTES >> 30} GiB: not a profile")
        # Read once: the digest, the inspection and the parse all see the same bytes.
        raw = path.read_bytes()
        if not _unsealed(path, raw):
            log.warning(
                "%s has no file checksum (written by an older driftd); rebuild it with "
                "`driftd reference build` so corruption is caught before parsing",
                path,
            )
        _inspect(path, raw)
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ProfileError:
        raise
    except Exception as exc:  # untrusted bytes: zipfile, npy header parsing, I/O all fail here
        raise ProfileError(f"{path} is not a readable driftd profile: {exc!r}") from None
    try:
        return _profile(path, arrays)
    except ProfileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ProfileError(f"{path}: profile metadata is malformed: {exc!r}") from None


def _profile(path: Path, arrays: dict[str, np.ndarray]) -> Profile:
    if "meta.json" not in arrays:
        raise ProfileError(f"{path} is not a driftd profile (no meta.json)")
    try:
        meta = json.loads(arrays.pop("meta.json").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"{path}: profile metadata is corrupted: {exc}") from None
    if meta.get("format") != FORMAT:
        raise ProfileError(f"{path} is not a driftd profile (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ProfileError(
            f"{path} is profile format version {meta.get('version')}, this driftd reads "
            f"version {VERSION}; rebuild it with `driftd reference build`"
        )
    if meta.get("checksum") != _checksum(arrays):
        raise ProfileError(f"{path}: profile arrays do not match their checksum (corrupted)")
    features: dict[str, FeatureProfile] = {}
    try:
        for i, entry in enumerate(meta["features"]):
            numeric = categorical = None
            if entry["type"] == "numeric":
                numeric = NumericSummary(
                    edges=arrays[f"f{i}.edges"],
                    counts=arrays[f"f{i}.counts"],
                    sample=arrays[f"f{i}.sample"],
                    minimum=float(entry["minimum"]),
                    maximum=float(entry["maximum"]),
                    mean=float(entry["mean"]),
                    std=float(entry["std"]),
                )
            elif entry["type"] == "categorical":
                categorical = CategoricalSummary(
                    domain=tuple(entry["domain"]),
                    counts=arrays[f"f{i}.counts"],
                    known_other=tuple(entry.get("known_other", ())),
                    complete=bool(entry.get("complete", True)),
                )
            else:
                raise ProfileError(f"{path}: feature {entry['name']!r} has type {entry['type']!r}")
            _check_feature(path, entry, numeric, categorical)
            features[entry["name"]] = FeatureProfile(
                name=entry["name"],
                type=entry["type"],
                count=int(entry["count"]),
                missing=int(entry["missing"]),
                numeric=numeric,
                categorical=categorical,
            )
        return Profile(
            features=features,
            rows=int(meta["rows"]),
            created_at=str(meta["created_at"]),
            source=str(meta["source"]),
            prediction=meta.get("prediction"),
            label=meta.get("label"),
            performance=dict(meta.get("performance") or {}),
            task=meta.get("task"),
        )
    except KeyError as exc:
        raise ProfileError(f"{path}: profile is missing {exc}") from None


def _check_feature(
    path: Path,
    entry: dict[str, Any],
    numeric: NumericSummary | None,
    categorical: CategoricalSummary | None,
) -> None:
    """What the detectors rely on, checked once here so they never see a malformed profile."""
    name = entry["name"]
    if not isinstance(name, str) or int(entry["count"]) < 0 or int(entry["missing"]) < 0:
        raise ProfileError(f"{path}: feature {name!r} has a bad name or counts")
    if numeric is not None:
        edges, counts, sample = numeric.edges, numeric.counts, numeric.sample
        ok = (
            edges.ndim == counts.ndim == sample.ndim == 1
            and counts.size == edges.size + 1
            and bool(np.isfinite(edges).all())
            and bool((np.diff(edges) > 0).all())
            and bool((counts >= 0).all())
            and sample.size > 0
            and bool(np.isfinite(sample).all())
            and bool((np.diff(sample) >= 0).all())
            and np.isfinite([numeric.minimum, numeric.maximum]).all()
        )
        if not ok:
            raise ProfileError(f"{path}: numeric summary of {name!r} is malformed")
    if categorical is not None:
        counts = categorical.counts
        ok = (
            counts.ndim == 1
            and counts.size == len(categorical.domain) + 1
            and bool((counts >= 0).all())
            and all(isinstance(c, str) for c in categorical.domain)
            and all(isinstance(c, str) for c in categorical.known_other)
        )
        if not ok:
            raise ProfileError(f"{path}: categorical summary of {name!r} is malformed")


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "meta.json":
            continue
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()
