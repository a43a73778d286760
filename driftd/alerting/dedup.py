"""The notification log: what each group last told its receiver, and whether to tell it again.

This is Alertmanager's ``DedupStage.needsUpdate``: a group is notified when it has news
(an alert it has not announced fires, or everything it announced resolved, or, with
``send_resolved``, some of it resolved), or when ``repeat_interval`` passed since the last send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LogEntry:
    """The fingerprints sent as firing and as resolved by the last notification, and when."""

    firing: frozenset[str]
    resolved: frozenset[str]
    sent_at: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "firing": sorted(self.firing),
            "resolved": sorted(self.resolved),
            "at": self.sent_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogEntry:
        """Inverse of ``to_dict``."""
        return cls(frozenset(data["firing"]), frozenset(data["resolved"]), float(data["at"]))


def needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Whether a group whose unmuted alerts are ``firing``/``resolved`` must notify now."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing and entry.firing:
        # Everything announced has resolved. Even with send_resolved off (nothing is sent then)
        # the log must record it, or the next firing of the same alerts would not count as news.
        return True
    if send_resolved and not resolved <= entry.resolved:
        return True
    return bool(firing) and now - entry.sent_at >= repeat_interval
