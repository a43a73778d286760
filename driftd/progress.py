"""Progress of long work on a terminal: how far, how fast, and how long it still takes.

``driftd replay`` and ``driftd reference build`` read files of millions of rows; on a terminal
they show one line, rewritten at most twice a second::

    1,250,000 / ~4,000,000 rows  31%  212,400 rows/s  ETA 0:13

Nothing is printed when stderr is not a terminal (logs and CI output stay clean).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

_SAMPLE = 4 << 20


class Progress:
    """Call with the count done so far; ``total`` (may be an estimate) gives percent and ETA."""

    def __init__(
        self,
        total: int | None,
        unit: str = "rows",
        *,
        estimated: bool = False,
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.5,
    ) -> None:
        self._total = total
        self._unit = unit
        self._approx = "~" if estimated else ""
        self._out = out or sys.stderr
        self._clock = clock
        self._every = every
        self._started = clock()
        self._last = -math.inf
        self._shown = False

    def __call__(self, done: int) -> None:
        now = self._clock()
        if now - self._last < self._every:
            return
        self._last = now
        self._out.write("\r" + self.line(done, now) + "\x1b[K")
        self._out.flush()
        self._shown = True

    def line(self, done: int, now: float) -> str:
        """The text shown for ``done`` at ``now``."""
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        text = f"{done:,} {self._unit}"
        if self._total:
            total = max(self._total, done)
            text = f"{done:,} / {self._approx}{total:,} {self._unit}  {100 * done / total:.0f}%"
            if rate > 0 and done < total:
                text += f"  {rate:,.0f} {self._unit}/s  ETA {_clock((total - done) / rate)}"
                return text
        return text + f"  {rate:,.0f} {self._unit}/s"

    def clear(self) -> None:
        """Wipe the line so other output starts clean (the next update draws it again)."""
        if self._shown:
            self._out.write("\r\x1b[K")
            self._out.flush()
            self._shown = False
            self._last = -math.inf

    def close(self) -> None:
        """End the line (before other output)."""
        if self._shown:
            self._out.write("\n")
            self._out.flush()
            self._shown = False


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def count_rows(path: str | Path) -> tuple[int | None, bool]:
    """Rows in a data file: exact for Parquet (its footer), estimated for text formats from the
    first 4 MiB (file size / mean line length; a header line is not subtracted). Returns
    (rows or None, whether estimated)."""
    path = Path(path)
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows), False
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_SAMPLE)
    except (OSError, ValueError):
        return None, False
    lines = head.count(b"\n")
    if not lines:
        return None, False
    if len(head) >= size:
        return lines + (0 if head.endswith(b"\n") else 1), False
    return round(size * lines / len(head)), True
