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

A file that is not a profile at all (text, an .npy or .npz of other arrays, another zip, a
pickle) is refused as "not a driftd profile (what it is)" before any of this, and the arrays are
read member by member with ``allow_pickle=False``, never through ``np.load``, whose guess at
what a file is ends in advice to unpickle it.

Files are written to a temporary name, fsynced and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from driftd.errors import ProfileError
from driftd.reference.profile import (
    CategoricalSummary,
    FeatureProfile,
    JointSummary,
    NumericSummary,
    Profile,
    VectorSummary,
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
        if feat.vector is not None:
            entry["dim"] = feat.vector.dim
            entry["joint"] = _save_joint(feat.vector.joint, f"f{i}.joint", arrays)
        if feat.categorical is not None:
            arrays[f"f{i}.counts"] = np.ascontiguousarray(feat.categorical.counts, dtype=np.int64)
            entry["domain"] = list(feat.categorical.domain)
            entry["known_other"] = list(feat.categorical.known_other)
            entry["complete"] = feat.categorical.complete
        features.append(entry)
    joint = None
    if profile.joint is not None:
        joint = _save_joint(profile.joint, "joint", arrays)
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
        "joint": joint,
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


def _save_joint(joint: JointSummary, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    for name in ("sample", "mean", "scale", "components"):
        arrays[f"{prefix}.{name}"] = np.ascontiguousarray(getattr(joint, name), dtype=np.float64)
    return {
        "features": list(joint.features),
        "fit_rows": joint.fit_rows,
        "explained": joint.explained,
        "variance": joint.variance,
    }


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
    """Read a profile; a missing, corrupted, hostile or other-version file, or one that is not
    a profile at all (text, an .npy or .npz array file, another zip), raises ProfileError (one
    message, never a traceback, never numpy's advice about pickles)."""
    path = Path(path)
    if not path.exists():
        raise ProfileError(
            f"reference profile {path} does not exist (build one with `driftd reference build`)"
        )
    if path.is_dir():
        raise ProfileError(f"{path} is a directory, not a driftd profile")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProfileError(f"{path} is larger than {MAX_FILE_BYTES >> 30} GiB: not a profile")
        # Read once: the digest, the inspection and the parse all see the same bytes.
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(
            f"reference profile {path} cannot be read: {exc.strerror or exc}"
        ) from None
    foreign = _foreign(raw)
    if foreign is not None:
        raise ProfileError(
            f"{path} is not a driftd profile ({foreign}); build one with `driftd reference build`"
        )
    try:
        sealed = _unsealed(path, raw)
        _inspect(path, raw)
        arrays = _arrays(path, raw)
    except ProfileError:
        raise
    except Exception as exc:  # untrusted bytes: zipfile, npy header parsing, I/O all fail here
        raise ProfileError(f"{path} is not a readable driftd profile ({_reason(exc)})") from None
    try:
        profile = _profile(path, arrays)
    except ProfileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ProfileError(f"{path}: profile metadata is malformed: {exc!r}") from None
    if not sealed:
        log.warning(
            "%s has no file checksum (written by an older driftd); rebuild it with "
            "`driftd reference build` so corruption is caught before parsing",
            path,
        )
    return profile


_ZIP = b"PK\x03\x04"  # a zip's first local file header; every profile starts with one
_MEMBER = re.compile(rb"f\d+\.(?:edges|counts|sample)\.npy|meta\.json\.npy")


def _foreign(data: bytes) -> str | None:
    """What ``data`` is when it is plainly not a driftd profile, nor one that was damaged
    (those get the checksum's message); None when it may be a profile."""
    if _TRAILER in data[-2 * _SEAL :] or b"meta.json.npy" in data:
        return None  # a profile's trailer or metadata: a profile, if a damaged one
    if data.startswith(_ZIP):
        name_length = int.from_bytes(data[26:28], "little")
        if len(data) < 30 + name_length or _MEMBER.fullmatch(data[30 : 30 + name_length]):
            return None  # a profile's first member, or too short to tell: damaged
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            return "a zip archive, and a damaged one"
        if names and all(name.endswith(".npy") for name in names):
            arrays = ", ".join(name[:-4] for name in names[:5]) + (", ..." * (len(names) > 5))
            return f"a NumPy .npz archive of arrays {arrays}, without a profile's meta.json"
        listed = ", ".join(names[:5]) + (", ..." * (len(names) > 5))
        return f"a zip archive of {listed or 'nothing'}, not of profile arrays"
    return _what(data)


def _what(data: bytes) -> str:
    """A few words on what a file that is not a zip archive is."""
    if not data:
        return "the file is empty"
    if data.startswith(b"\x93NUMPY"):
        return "a single NumPy .npy array, not a profile archive"
    if data.startswith(b"PK\x05\x06"):
        return "an empty zip archive"
    if data[:1] == b"\x80" and data[1:2] in {b"\x02", b"\x03", b"\x04", b"\x05"}:
        return "a Python pickle, which driftd never loads"
    if data.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file"
    head = data[:4096]
    try:
        text = head.decode()
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is fine
        text = head[: exc.start].decode() if exc.start > len(head) - 4 else ""
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        first = text.splitlines()[0] if text.strip() else ""
        first = first if len(first) <= 40 else first[:40] + "..."
        return f"a text file beginning {first!r}" if first else "a text file"
    return "not a zip archive: unknown binary data"


def _arrays(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an inspected archive, read member by member (never ``np.load``, which
    takes bytes that are not a zip for a pickle and answers with advice about ``allow_pickle``)."""
    if not data.startswith(_ZIP):
        raise ProfileError(
            f"{path} is not an intact driftd profile: other bytes come before its archive "
            "(corrupted)"
        )
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            with archive.open(info) as f:
                arrays[info.filename[: -len(".npy")]] = np.lib.format.read_array(
                    f, allow_pickle=False
                )
    return arrays


def _reason(exc: Exception) -> str:
    """An exception's text for the user; numpy's advice to load pickles is not passed on."""
    text = str(exc) or type(exc).__name__
    if "pickle" in text.lower():
        return "it holds pickled Python objects, which driftd never loads"
    return text


def _profile(path: Path, arrays: dict[str, np.ndarray]) -> Profile:
    if "meta.json" not in arrays:
        raise ProfileError(f"{path} is not a driftd profile (no meta.json)")
    try:
        meta = json.loads(arrays.pop("meta.json").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"{path}: profile metadata is corrupted: {exc}") from None
    if not isinstance(meta, dict) or "format" not in meta:
        raise ProfileError(f"{path} is not a driftd profile (its meta.json is not a profile's)")
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
            numeric = categorical = vector = None
            if entry["type"] == "vector":
                joint = _read_joint(path, entry["joint"], arrays, f"f{i}.joint")
                dim = int(entry["dim"])
                if joint.sample.shape[1] != dim:
                    raise ProfileError(f"{path}: vector {entry['name']!r} is inconsistent")
                vector = VectorSummary(dim, joint)
            elif entry["type"] == "numeric":
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
            if vector is None:
                _check_feature(path, entry, numeric, categorical)
            features[entry["name"]] = FeatureProfile(
                name=entry["name"],
                type=entry["type"],
                count=int(entry["count"]),
                missing=int(entry["missing"]),
                numeric=numeric,
                categorical=categorical,
                vector=vector,
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
            joint=_joint(path, meta.get("joint"), arrays, features),
        )
    except KeyError as exc:
        raise ProfileError(f"{path}: profile is missing {exc}") from None


def _joint(
    path: Path,
    entry: dict[str, Any] | None,
    arrays: dict[str, np.ndarray],
    features: dict[str, FeatureProfile],
) -> JointSummary | None:
    # Profiles written before multivariate statistics existed have none: they still load, and
    # a monitor asking for a multivariate statistic says to rebuild.
    if entry is None:
        return None
    joint = _read_joint(path, entry, arrays, "joint")
    if any(features.get(n) is None or features[n].type != "numeric" for n in joint.features):
        raise ProfileError(f"{path}: the joint sample is inconsistent with the features")
    return joint


def _read_joint(
    path: Path, entry: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str
) -> JointSummary:
    names = tuple(str(n) for n in entry["features"])
    sample = arrays[f"{prefix}.sample"]
    mean, scale = arrays[f"{prefix}.mean"], arrays[f"{prefix}.scale"]
    components = arrays[f"{prefix}.components"]
    d = len(names)
    fit_rows = int(entry["fit_rows"])
    if (
        sample.ndim != 2
        or sample.shape[1] != d
        or mean.shape != (d,)
        or scale.shape != (d,)
        or components.ndim != 2
        or components.shape[1] != d
        or not 0 <= fit_rows < sample.shape[0]
        or not np.all(np.isfinite(sample))
        or not np.all(scale > 0)
    ):
        raise ProfileError(f"{path}: the joint sample is inconsistent with the features")
    return JointSummary(
        names,
        sample,
        fit_rows,
        mean,
        scale,
        components,
        float(entry["explained"]),
        float(entry.get("variance", 0.65)),
    )


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
