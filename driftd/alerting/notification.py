"""What a receiver is asked to deliver: one aggregation group at one moment, and the
``Notifier`` contract every receiver implements."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from driftd.alerting.alert import Alert, Labels, as_labels


@dataclass(frozen=True, slots=True)
class Notification:
    """One group of alerts for one receiver.

    ``group_key`` identifies the aggregation group (route and group labels) and is the ordering
    key of the outbox; ``alerts`` hold the firing alerts and the resolved ones being announced.
    """

    receiver: str
    group_key: str
    group_labels: Labels
    alerts: tuple[Alert, ...]
    created_at: float
    # Alertmanager's groupKey for the same route and group ("" when not from a route).
    am_group_key: str = ""

    @property
    def firing(self) -> tuple[Alert, ...]:
        """The firing alerts."""
        return tuple(a for a in self.alerts if a.is_firing)

    @property
    def resolved(self) -> tuple[Alert, ...]:
        """The resolved alerts."""
        return tuple(a for a in self.alerts if not a.is_firing)

    @property
    def status(self) -> str:
        """``firing`` while any alert fires, else ``resolved``."""
        return "firing" if self.firing else "resolved"

    @property
    def common_labels(self) -> dict[str, str]:
        """Labels every alert shares with the same value."""
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        """Annotations every alert shares with the same value."""
        return _common([a.annotations for a in self.alerts])

    @property
    def key_hash(self) -> str:
        """sha256 of receiver and group key: a stable id for the group at a receiver."""
        return hashlib.sha256(f"{self.receiver}\x00{self.group_key}".encode()).hexdigest()

    def title(self) -> str:
        """``[FIRING:3] DataDrift monitor=fraud`` (Alertmanager's default title shape)."""
        count = f":{len(self.firing)}" if self.firing else ""
        labels = " ".join(f"{k}={v}" for k, v in self.group_labels if k != "alertname")
        name = dict(self.group_labels).get("alertname") or self.common_labels.get("alertname", "")
        return " ".join(p for p in (f"[{self.status.upper()}{count}]", name, labels) if p)

    def to_json(self) -> str:
        """Serialised form stored in the outbox."""
        return json.dumps(
            {
                "receiver": self.receiver,
                "group_key": self.group_key,
                "group_labels": dict(self.group_labels),
                "alerts": [a.to_dict() for a in self.alerts],
                "created_at": self.created_at,
                "am_group_key": self.am_group_key,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Notification:
        """Inverse of ``to_json``."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            receiver=str(data["receiver"]),
            group_key=str(data["group_key"]),
            group_labels=as_labels(data["group_labels"]),
            alerts=tuple(Alert.from_dict(a) for a in data["alerts"]),
            created_at=float(data["created_at"]),
            am_group_key=str(data.get("am_group_key", "")),
        )


class Notifier(Protocol):
    """A receiver: deliver one notification or raise ``SinkError(retryable, retry_after)``."""

    def notify(self, group: Notification) -> None: ...


def _common(sets: list[Labels]) -> dict[str, str]:
    if not sets:
        return {}
    common = dict(sets[0])
    for pairs in sets[1:]:
        other: Mapping[str, str] = dict(pairs)
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return common
