"""Atomic, checksummed state files: a JSON header plus raw numpy arrays, never pickle.

Layout::

    b"DRIFTDST"            8-byte magic
    uint32 LE              length of the header
    header                 UTF-8 JSON: format, kind, version, meta, and per array its name,
                           dtype, shape and byte offset into the payload
    payload                the arrays' bytes, one after another (C order)
    32 bytes               BLAKE2b-256 of header and payload

A file is written to a temporary name in the same directory, flushed, fsynced, renamed over the
target and the directory fsynced, so a crash leaves either the old file or the new one. Reading
checks the magic, the checksum, the kind and the version before anything is decoded, so a
truncated, corrupted or foreign file raises :class:`ConceptStateError` instead of misbehaving.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from driftd.concept.errors import ConceptStateError

MAGIC = b"DRIFTDST"
FORMAT = 1
_DIGEST = 32
_ALLOWED_DTYPES = frozenset({"<u8", "<i8", "<f4", "<f8", "|b1", "|u1"})


def write_state(
    path: str | os.PathLike[str],
    kind: str,
    version: int,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:
    """Write ``meta`` (JSON-able) and ``arrays`` to ``path`` atomically."""
    path = Path(path)
    specs = []
    offset = 0
    blobs = []
    for name, array in arrays.items():
        a = np.ascontiguousarray(array)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dtype, copy=False)
        if a.dtype.str not in _ALLOWED_DTYPES:
            raise TypeError(f"array {name!r} has unsupported dtype {a.dtype}")
        specs.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
        offset += a.nbytes
        blobs.append(a)
    header = {"format": FORMAT, "kind": kind, "version": version, "meta": meta, "arrays": specs}
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode("utf-8")
    digest = hashlib.blake2b(digest_size=_DIGEST)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<I", len(head)))
            for chunk in (head, *(memoryview(b).cast("B") for b in blobs)):
                digest.update(chunk)
                f.write(chunk)
            f.write(digest.digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_state(
    path: str | os.PathLike[str], kind: str, version: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_state`; return its meta and arrays (read-only)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConceptStateError(f"cannot read state file {path}: {exc.strerror}") from exc

    def bad(why: str) -> ConceptStateError:
        return ConceptStateError(f"state file {path} is unusable: {why}")

    if len(data) < len(MAGIC) + 4 + _DIGEST or not data.startswith(MAGIC):
        raise bad("not a driftd state file (bad magic or too short)")
    (head_len,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    body = memoryview(data)[start:-_DIGEST]
    if head_len > len(body):
        raise bad("truncated header")
    if hashlib.blake2b(body, digest_size=_DIGEST).digest() != data[-_DIGEST:]:
        raise bad("checksum mismatch (truncated or corrupted)")
    try:
        header = json.loads(bytes(body[:head_len]))
    except ValueError as exc:
        raise bad(f"header is not JSON: {exc}") from exc
    if header.get("format") != FORMAT:
        raise bad(f"format {header.get('format')!r}, this driftd reads format {FORMAT}")
    if header.get("kind") != kind:
        raise bad(f"holds {header.get('kind')!r} state, expected {kind!r}")
    if header.get("version") != version:
        raise bad(f"{kind} version {header.get('version')!r}, this driftd reads {version}")
    payload = body[head_len:]
    arrays: dict[str, np.ndarray] = {}
    try:
        for spec in header["arrays"]:
            dtype = spec["dtype"]
            if dtype not in _ALLOWED_DTYPES:
                raise bad(f"array {spec['name']!r} has unsupported dtype {dtype!r}")
            shape = tuple(int(s) for s in spec["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            offset = int(spec["offset"])
            end = offset + count * np.dtype(dtype).itemsize
            if offset < 0 or end > len(payload):
                raise bad(f"array {spec['name']!r} runs past the end of the payload")
            arrays[spec["name"]] = np.frombuffer(payload[offset:end], dtype=dtype).reshape(shape)
        meta = header["meta"]
    except (KeyError, TypeError, ValueError) as exc:
        raise bad(f"malformed header: {exc!r}") from exc
    return meta, arrays


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
