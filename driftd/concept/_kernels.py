"""Numba kernels of the label join: id hashing and an open-addressing table in flat arrays.

Every function here is pure and flat: arrays and scalars in, arrays mutated in place and scalars
out; no objects, config or logging. ``driftd.concept.ids`` and ``driftd.concept.table`` validate
input and own the arrays.

A table is five parallel arrays of one power-of-two length: ``keys`` (uint64), ``values``
(float32), ``scores`` (float32), ``times`` (float64, event time) and ``arrivals`` (float64,
clock time of insertion). ``keys[i] == 0`` marks slot ``i`` empty, so 0 is never a key. Slots are
found by linear probing from ``key & (capacity - 1)``; the keys are already well-mixed 64-bit
hashes, so their low bits are a good home slot. Deletion shifts the rest of the probe cluster
back instead of leaving tombstones, so lookups never slow down as entries come and go.
"""

# Kernels take the table as flat positional arrays: numba has no keyword-only parameters and
# passing objects would defeat nopython mode.
# ruff: noqa: PLR0917

from __future__ import annotations

import numpy as np
from numba import njit

_ZERO = np.uint64(0)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)
# Stands in for a hash that comes out as 0, which marks an empty slot.
_ZERO_STAND_IN = np.uint64(0x9E3779B97F4A7C15)
_TEN = np.uint64(10)
_ASCII_ZERO = np.uint64(48)
_MINUS = np.uint64(45)


@njit(cache=True, nogil=True)
def _finish(h: np.uint64, length: int) -> np.uint64:
    # FNV-1a alone mixes the last bytes poorly into the low bits used for the home slot; a
    # multiply-xorshift finaliser spreads every input bit over the whole word.
    h ^= np.uint64(length)
    h ^= h >> _SHIFT
    h *= _MIX1
    h ^= h >> _SHIFT
    h *= _MIX2
    h ^= h >> _SHIFT
    if h == _ZERO:
        return _ZERO_STAND_IN
    return h


@njit(cache=True, nogil=True)
def hash_bytes(buf: np.ndarray, ends: np.ndarray, out: np.ndarray) -> None:
    """Hash ``buf[ends[j-1]:ends[j]]`` into ``out[j]`` (uint8 buffer, int64 ends, uint64 out)."""
    start = 0
    for j in range(ends.shape[0]):
        end = ends[j]
        h = _FNV_OFFSET
        for p in range(start, end):
            h ^= np.uint64(buf[p])
            h *= _FNV_PRIME
        out[j] = _finish(h, end - start)
        start = end


@njit(cache=True, nogil=True)
def _hash_decimal(negative: bool, magnitude: np.uint64, digits: np.ndarray) -> np.uint64:
    # Hashes the decimal text of the integer without building it, byte for byte as hash_bytes
    # would hash str(value).encode(), so 42 and "42" are the same id.
    n = 0
    while True:
        digits[n] = np.uint8(_ASCII_ZERO + magnitude % _TEN)
        magnitude //= _TEN
        n += 1
        if magnitude == _ZERO:
            break
    h = _FNV_OFFSET
    length = n
    if negative:
        h ^= _MINUS
        h *= _FNV_PRIME
        length += 1
    for p in range(n - 1, -1, -1):
        h ^= np.uint64(digits[p])
        h *= _FNV_PRIME
    return _finish(h, length)


@njit(cache=True, nogil=True)
def hash_int64(values: np.ndarray, out: np.ndarray) -> None:
    """Hash the decimal text of each int64 in ``values`` into ``out``."""
    digits = np.empty(20, np.uint8)
    for j in range(values.shape[0]):
        v = values[j]
        if v < 0:
            # -(v + 1) cannot overflow, even for the most negative int64.
            magnitude = np.uint64(-(v + 1)) + np.uint64(1)
            out[j] = _hash_decimal(True, magnitude, digits)
        else:
            out[j] = _hash_decimal(False, np.uint64(v), digits)


@njit(cache=True, nogil=True)
def hash_uint64(values: np.ndarray, out: np.ndarray) -> None:
    """Hash the decimal text of each uint64 in ``values`` into ``out``."""
    digits = np.empty(20, np.uint8)
    for j in range(values.shape[0]):
        out[j] = _hash_decimal(False, values[j], digits)


@njit(cache=True, nogil=True)
def _find(keys: np.ndarray, key: np.uint64) -> int:
    imask = keys.shape[0] - 1
    i = np.int64(key & np.uint64(imask))
    while True:
        k = keys[i]
        if k == key:
            return i
        if k == _ZERO:
            return -1
        i = (i + 1) & imask


@njit(cache=True, nogil=True)
def _delete_at(
    keys: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    times: np.ndarray,
    arrivals: np.ndarray,
    i: int,
) -> None:
    # Backward-shift deletion: walk the rest of the cluster and move back every entry whose home
    # slot is not between the hole and itself, so no probe sequence is broken by the hole.
    imask = keys.shape[0] - 1
    hole = i
    j = (i + 1) & imask
    while keys[j] != _ZERO:
        home = np.int64(keys[j] & np.uint64(imask))
        if ((j - home) & imask) >= ((j - hole) & imask):
            keys[hole] = keys[j]
            values[hole] = values[j]
            scores[hole] = scores[j]
            times[hole] = times[j]
            arrivals[hole] = arrivals[j]
            hole = j
        j = (j + 1) & imask
    keys[hole] = _ZERO


@njit(cache=True, nogil=True)
def put(
    keys: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    times: np.ndarray,
    arrivals: np.ndarray,
    q_keys: np.ndarray,
    q_values: np.ndarray,
    q_scores: np.ndarray,
    q_times: np.ndarray,
    q_arrivals: np.ndarray,
) -> int:
    """Insert the query rows in order, skipping keys already present; return how many went in.

    The caller guarantees room: ``count + len(q_keys) < capacity``.
    """
    imask = keys.shape[0] - 1
    inserted = 0
    for j in range(q_keys.shape[0]):
        key = q_keys[j]
        i = np.int64(key & np.uint64(imask))
        while True:
            k = keys[i]
            if k == _ZERO:
                keys[i] = key
                values[i] = q_values[j]
                scores[i] = q_scores[j]
                times[i] = q_times[j]
                arrivals[i] = q_arrivals[j]
                inserted += 1
                break
            if k == key:
                break
            i = (i + 1) & imask
    return inserted


@njit(cache=True, nogil=True)
def take(
    keys: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    times: np.ndarray,
    arrivals: np.ndarray,
    q_keys: np.ndarray,
    found: np.ndarray,
    out_values: np.ndarray,
    out_scores: np.ndarray,
    out_times: np.ndarray,
) -> int:
    """Remove each query key in order, copying its row out; ``found[j]`` says if it was there."""
    n_found = 0
    for j in range(q_keys.shape[0]):
        i = _find(keys, q_keys[j])
        if i < 0:
            found[j] = False
            continue
        found[j] = True
        out_values[j] = values[i]
        out_scores[j] = scores[i]
        out_times[j] = times[i]
        _delete_at(keys, values, scores, times, arrivals, i)
        n_found += 1
    return n_found


@njit(cache=True, nogil=True)
def sweep(
    keys: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    times: np.ndarray,
    arrivals: np.ndarray,
    cutoff: float,
    tie_arrival: float,
    tie_key: np.uint64,
) -> tuple[int, float]:
    """Delete rows with ``arrival < cutoff`` or ``arrival == tie_arrival and key <= tie_key``.

    Returns the number deleted and the smallest arrival among the rows kept (inf if none).
    Pass ``tie_arrival = nan`` to delete by ``cutoff`` alone.
    """
    cap = keys.shape[0]
    imask = cap - 1
    # Deleting one row at a time would walk the rest of its cluster each time, quadratic in a
    # long cluster. Instead clear every doomed slot, then move each survivor that a cleared
    # slot cut off from its home back to the first free slot of its probe sequence.
    # The scans start after a slot that was empty before anything was cleared: no cluster
    # spans it, so a survivor only ever moves to a slot the scan has already passed, and a
    # slot it vacates lies on no probe path the scan has already fixed.
    start = 0
    while keys[start] != _ZERO:
        start += 1
    removed = 0
    oldest = np.inf
    for i in range(cap):
        k = keys[i]
        if k != _ZERO:
            a = arrivals[i]
            if a < cutoff or (a == tie_arrival and k <= tie_key):
                keys[i] = _ZERO
                removed += 1
            else:
                oldest = min(oldest, a)
    if removed == 0:
        return removed, oldest
    for step in range(1, cap):
        i = (start + step) & imask
        k = keys[i]
        if k == _ZERO:
            continue
        j = np.int64(k & np.uint64(imask))
        while j != i and keys[j] != _ZERO:
            j = (j + 1) & imask
        if j != i:
            keys[j] = k
            values[j] = values[i]
            scores[j] = scores[i]
            times[j] = times[i]
            arrivals[j] = arrivals[i]
            keys[i] = _ZERO
    return removed, oldest


@njit(cache=True, nogil=True)
def rehash(
    keys: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    times: np.ndarray,
    arrivals: np.ndarray,
    new_keys: np.ndarray,
    new_values: np.ndarray,
    new_scores: np.ndarray,
    new_times: np.ndarray,
    new_arrivals: np.ndarray,
) -> None:
    """Copy every row of one table into another (empty) table of any power-of-two size."""
    imask = new_keys.shape[0] - 1
    for s in range(keys.shape[0]):
        key = keys[s]
        if key == _ZERO:
            continue
        i = np.int64(key & np.uint64(imask))
        while new_keys[i] != _ZERO:
            i = (i + 1) & imask
        new_keys[i] = key
        new_values[i] = values[s]
        new_scores[i] = scores[s]
        new_times[i] = times[s]
        new_arrivals[i] = arrivals[s]
