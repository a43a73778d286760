"""Splitting a batch by segment (e.g. country or model_version), with a bounded segment count."""

from __future__ import annotations

from typing import Any

import numpy as np

OTHER_SEGMENT = "__other__"


class Segmenter:
    """Groups row indices by the values of ``fields``; at most ``limit`` keys, "other" included.

    Examples
    --------
    >>> s = Segmenter(["country"], limit=3)
    >>> groups = s.split({"country": ["DE", "FR", "DE", "US", None]}, 5)
    >>> {k: v.tolist() for k, v in groups.items()}
    {(('country', 'DE'),): [0, 2], (('country', 'FR'),): [1], (('country', '__other__'),): [3, 4]}
    """

    def __init__(self, fields: list[str], limit: int) -> None:
        self.fields = fields
        self.limit = limit
        self.known: set[tuple[tuple[str, str], ...]] = set()

    def split(
        self, columns: dict[str, list[Any]], n: int
    ) -> dict[tuple[tuple[str, str], ...], np.ndarray]:
        """Row indices per segment key (one key ``()`` when there are no segment fields)."""
        if not self.fields:
            return {(): np.arange(n)}
        other = tuple((f, OTHER_SEGMENT) for f in self.fields)
        rows: dict[tuple[tuple[str, str], ...], list[int]] = {}
        values = [columns[f] for f in self.fields]
        for i in range(n):
            key = tuple(
                (f, OTHER_SEGMENT if col[i] is None else str(col[i]))
                for f, col in zip(self.fields, values, strict=True)
            )
            if key not in self.known:
                if len(self.known) >= self.limit - 1 and key != other:
                    key = other
                else:
                    self.known.add(key)
            rows.setdefault(key, []).append(i)
        return {k: np.asarray(v, dtype=np.int64) for k, v in rows.items()}
