"""Stable 64-bit hashes of prediction ids, the keys of the label join.

An id is hashed through its canonical text: a ``str`` as its UTF-8 bytes, an ``int`` (or an
integral float, as JSON numbers sometimes arrive) as its decimal digits, ``bytes`` as they are.
So ``42``, ``42.0``, ``"42"`` and ``b"42"`` are the same id, which lets a prediction stream that
sends numbers join a label stream that sends strings.

The hash is 64-bit FNV-1a over those bytes followed by a multiply-xorshift finaliser. It is
deterministic across processes, platforms and Python versions (unlike :func:`hash`, which is
salted per process), so saved join state stays valid after a restart. It is not cryptographic:
ids are not adversarial here. Two distinct ids collide with probability about 2**-64, so among
``n`` pending ids the chance of any collision is about ``n**2 / 2**65`` (3e-6 for ten million);
a collision would join one prediction with another id's label, once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from driftd.concept import _kernels

Ids = Sequence[object] | np.ndarray


def hash_ids(ids: Ids) -> np.ndarray:
    """Return the uint64 hash of each id, never 0.

    Examples
    --------
    >>> from driftd.concept.ids import hash_ids
    >>> a, b, c = hash_ids(["42", 42, b"42"])
    >>> bool(a == b == c)
    True
    >>> int(hash_ids(["order-1"])[0]) == int(hash_ids(["order-2"])[0])
    False
    """
    if isinstance(ids, np.ndarray):
        return _hash_array(ids)
    ids = list(ids)
    if not ids:
        return np.empty(0, np.uint64)
    kinds = set(map(type, ids))
    if kinds == {str}:
        return _hash_strings(ids)
    if kinds == {int}:
        try:
            return _hash_array(np.array(ids, dtype=np.int64))
        except OverflowError:
            pass  # integers beyond int64 are hashed through their text below
    return _hash_encoded([_canonical(x) for x in ids])


def _hash_array(ids: np.ndarray) -> np.ndarray:
    if ids.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {ids.shape}")
    out = np.empty(ids.shape[0], np.uint64)
    kind = ids.dtype.kind
    if kind == "i":
        _kernels.hash_int64(np.ascontiguousarray(ids, dtype=np.int64), out)
    elif kind == "u":
        _kernels.hash_uint64(np.ascontiguousarray(ids, dtype=np.uint64), out)
    elif kind in "USOf":
        return hash_ids(ids.tolist())
    else:
        raise TypeError(f"ids must be strings or integers, got an array of dtype {ids.dtype}")
    return out


def _hash_strings(ids: list[str]) -> np.ndarray:
    joined = "".join(ids)
    if joined.isascii():
        # One encode for the whole batch; for ASCII, character and byte offsets agree.
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        return _hash_buffer(joined.encode("ascii"), lengths)
    return _hash_encoded([s.encode("utf-8") for s in ids])


def _hash_encoded(encoded: list[bytes]) -> np.ndarray:
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    return _hash_buffer(b"".join(encoded), lengths)


def _hash_buffer(buf: bytes, lengths: np.ndarray) -> np.ndarray:
    out = np.empty(lengths.shape[0], np.uint64)
    _kernels.hash_bytes(np.frombuffer(buf, np.uint8), np.cumsum(lengths), out)
    return out


def _canonical(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool | np.bool_):
        raise TypeError("an id cannot be a boolean")
    if isinstance(value, int | np.integer):
        return str(int(value)).encode("ascii")
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value)).encode("ascii")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"an id must be a str, int or bytes, got {type(value).__name__}: {value!r}")
