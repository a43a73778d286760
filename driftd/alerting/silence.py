"""Silences: matchers plus a time window that mute firing alerts.

Silences come from the config (fixed, cannot be deleted through the API) or are added at
runtime; runtime ones are kept in a JSON file, rewritten atomically on every change, so they
survive restarts. Expired runtime silences stay visible for ``retention`` seconds, then go.
"""

from __future__ import annotations

import json
import math
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftd.alerting.alert import Alert
from driftd.alerting.config import SilenceConfig
from driftd.alerting.matchers import Matcher, match_all, parse_matchers
from driftd.alerting.timefmt import LATEST, parse_time, rfc3339
from driftd.errors import DriftdError

RETENTION = 120 * 3600.0  # Alertmanager's --data.retention default


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence; ``source`` is ``config`` or ``api``; ``ends_at`` may be infinite."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    source: str = "api"

    def state(self, now: float) -> str:
        """``pending``, ``active`` or ``expired`` at ``now``."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def to_dict(self, now: float) -> dict[str, Any]:
        """The API shape (Alertmanager v2 field names), with the state at ``now``."""
        return {
            "id": self.id,
            "matchers": [
                {
                    "name": m.name,
                    "value": m.value,
                    "isRegex": m.op in ("=~", "!~"),
                    "isEqual": m.op in ("=", "=~"),
                }
                for m in self.matchers
            ],
            "startsAt": rfc3339(self.starts_at),
            "endsAt": None if math.isinf(self.ends_at) else rfc3339(self.ends_at),
            "createdBy": self.created_by,
            "comment": self.comment,
            "source": self.source,
            "status": {"state": self.state(now)},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, now: float, new_id: bool) -> Silence:
        """Validate an API body (or a stored entry); raises ValueError naming the problem."""
        raw = data.get("matchers")
        if not isinstance(raw, list) or not raw:
            raise ValueError("matchers: give a non-empty list")
        matchers = tuple(
            Matcher.parse(m) if isinstance(m, str) else Matcher.from_api(m) for m in raw
        )
        for key in ("createdBy", "comment"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise ValueError(f"{key}: required (who silenced this, and why)")
        starts_at = parse_time(data["startsAt"]) if data.get("startsAt") is not None else now
        if data.get("endsAt") is not None:
            ends_at = parse_time(data["endsAt"])
        elif isinstance(data.get("duration"), int | float) and not isinstance(
            data["duration"], bool
        ):
            duration = float(data["duration"])
            if not 0 < duration <= LATEST - starts_at:  # also false for NaN and infinity
                raise ValueError("duration: give seconds > 0 that end before the year 10000")
            ends_at = starts_at + duration
        else:
            raise ValueError("endsAt (RFC 3339) or duration (seconds) is required")
        if ends_at <= starts_at:
            raise ValueError("endsAt must be after startsAt")
        given = data.get("id")
        sid = str(uuid.uuid4()) if new_id or not isinstance(given, str) else given
        return cls(sid, matchers, starts_at, ends_at, data["createdBy"], data["comment"])


class SilenceError(DriftdError):
    """A silence that cannot be added or removed; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Silences:
    """Config silences plus runtime ones persisted to ``path``; safe across threads."""

    def __init__(self, configured: Sequence[SilenceConfig], path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._config: dict[str, Silence] = {}
        for i, cfg in enumerate(configured):
            sid = cfg.id or f"config-{i}"
            self._config[sid] = Silence(
                sid,
                parse_matchers(cfg.matchers),
                cfg.starts_at.timestamp() if cfg.starts_at else -math.inf,
                cfg.ends_at.timestamp() if cfg.ends_at else math.inf,
                cfg.created_by,
                cfg.comment,
                "config",
            )
        self._runtime: dict[str, Silence] = {}
        if path is not None and path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            for item in stored:
                silence = Silence.from_dict(item, now=0.0, new_id=False)
                self._runtime[silence.id] = silence

    def add(self, silence: Silence) -> str:
        """Add or replace a runtime silence; returns its id."""
        with self._lock:
            if silence.id in self._config:
                raise SilenceError(f"silence {silence.id} is defined in the config", 409)
            self._runtime[silence.id] = silence
            self._save()
        return silence.id

    def remove(self, sid: str) -> None:
        """Delete a runtime silence."""
        with self._lock:
            if sid in self._config:
                raise SilenceError(f"silence {sid} is defined in the config; edit the config", 409)
            if self._runtime.pop(sid, None) is None:
                raise SilenceError(f"no silence {sid}", 404)
            self._save()

    def get(self, sid: str) -> Silence | None:
        """One silence by id."""
        with self._lock:
            return self._config.get(sid) or self._runtime.get(sid)

    def all(self) -> list[Silence]:
        """Every silence, config ones first."""
        with self._lock:
            return [*self._config.values(), *self._runtime.values()]

    def muter(self, now: float) -> Callable[[Alert], bool]:
        """A predicate telling whether an active silence mutes an alert at ``now``."""
        active = [s for s in self.all() if s.state(now) == "active"]
        return lambda alert: any(match_all(s.matchers, alert.label_map) for s in active)

    def expire_old(self, now: float, retention: float = RETENTION) -> None:
        """Forget runtime silences that ended more than ``retention`` seconds ago."""
        with self._lock:
            old = [sid for sid, s in self._runtime.items() if now - s.ends_at > retention]
            for sid in old:
                del self._runtime[sid]
            if old:
                self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        entries = [s.to_dict(0.0) for s in self._runtime.values()]
        for entry in entries:
            entry["matchers"] = [str(m) for m in self._runtime[entry["id"]].matchers]
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(entries, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        # rename is atomic: a crash leaves the old file or the new one, never half of one.
        tmp.replace(self._path)
