"""Writing a report file: ``driftd report`` and ``driftd replay --report``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from driftd.reference.profile import Profile
from driftd.report.data import gather
from driftd.report.page import render


def write_report(
    path: str | Path,
    verdicts: Iterable[Mapping[str, Any]],
    notifications: Iterable[Mapping[str, Any]] = (),
    profiles: Mapping[str, Profile] | None = None,
    *,
    source: str = "",
) -> Path:
    """Render and write one self-contained HTML file (atomically: a reader never sees half)."""
    data = gather(verdicts, notifications, source=source)
    page = render(data, profiles, title=f"driftd report{' · ' + source if source else ''}")
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    return target
