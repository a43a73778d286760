"""Events from files, for ``driftd replay``: JSON lines, or Parquet rows turned into JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from driftd.errors import DriftdError


def read_batches(path: str | Path, batch_size: int = 5000) -> Iterator[list[bytes]]:
    """Record values from ``path`` in batches; ``.parquet`` rows become JSON objects.

    A Parquet column named ``features.amount`` becomes the nested key, so the same field
    mapping works for the Kafka stream and its Parquet export.
    """
    path = Path(path)
    if not path.exists():
        raise DriftdError(f"{path} does not exist")
    if path.suffix.lower() in {".parquet", ".pq"}:
        yield from _parquet(path, batch_size)
        return
    with path.open("rb") as f:
        batch: list[bytes] = []
        for raw in f:
            line = raw.strip()
            if not line:
                continue
            batch.append(line)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _parquet(path: Path, batch_size: int) -> Iterator[list[bytes]]:
    import pyarrow.parquet as pq

    encode = msgspec.json.Encoder().encode
    for record_batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        rows = record_batch.to_pylist()
        yield [encode(_nest(row)) for row in rows]


def _nest(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out
