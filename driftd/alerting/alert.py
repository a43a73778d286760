"""The alert record and its identity: a fingerprint of the sorted label set."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

Labels = tuple[tuple[str, str], ...]
Status = Literal["firing", "resolved"]


def as_labels(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Canonical label tuple: sorted by name, empty values dropped (empty means absent)."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return tuple(sorted((str(k), str(v)) for k, v in items if v != ""))


FNV_OFFSET = 14695981039346656037
FNV_PRIME = 1099511628211


def alertmanager_fingerprint(labels: Labels) -> str:
    """Alertmanager's (Prometheus's) fingerprint of a label set: 16 hex digits of FNV-1a 64 over
    ``name 0xff value 0xff`` for each sorted label. Empty values do not count: Prometheus and
    Alertmanager drop such labels, so the set they fingerprint has none.

    What webhook payloads carry, so that a consumer keyed on Alertmanager's fingerprints (or
    deduplicating against Alertmanager) sees the same identity.

    >>> alertmanager_fingerprint((("alertname", "DataDrift"), ("monitor", "fraud"), ("x", "")))
    '3b462b9c77571e7f'
    """
    h = FNV_OFFSET
    for name, value in sorted((k, v) for k, v in labels if v):
        for byte in b"%s\xff%s\xff" % (name.encode(), value.encode()):
            h = ((h ^ byte) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fingerprint(labels: Labels) -> str:
    """16 hex digits of sha256 over ``name 0xff value 0xff`` for each sorted label.

    The 0xff separator cannot occur in UTF-8 text, so no two label sets share a canonical form.

    >>> fingerprint((("alertname", "DataDrift"), ("monitor", "fraud")))
    '4e84c0584b8572f0'
    """
    digest = hashlib.sha256()
    for name, value in sorted(labels):
        digest.update(name.encode())
        digest.update(b"\xff")
        digest.update(value.encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the notification pipeline sees it.

    Identity is ``labels`` (hence ``fingerprint``); ``annotations`` carry the latest value, limit,
    window and links and may change while the alert keeps its identity. Times are epoch seconds;
    ``ends_at`` is None while firing.
    """

    fingerprint: str
    labels: Labels
    annotations: Labels
    status: Status
    starts_at: float
    ends_at: float | None
    updated_at: float

    @classmethod
    def firing(
        cls, labels: Labels, annotations: Labels, starts_at: float, updated_at: float
    ) -> Alert:
        """A firing alert whose fingerprint is derived from ``labels``."""
        return cls(fingerprint(labels), labels, annotations, "firing", starts_at, None, updated_at)

    def resolve(self, now: float) -> Alert:
        """The same alert, resolved at ``now``."""
        return replace(self, status="resolved", ends_at=now, updated_at=now)

    @property
    def is_firing(self) -> bool:
        """True while the alert is firing."""
        return self.status == "firing"

    @property
    def label_map(self) -> dict[str, str]:
        """Labels as a dict."""
        return dict(self.labels)

    @property
    def annotation_map(self) -> dict[str, str]:
        """Annotations as a dict."""
        return dict(self.annotations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the outbox and state snapshots."""
        return {
            "fingerprint": self.fingerprint,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "status": self.status,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Inverse of ``to_dict``."""
        return cls(
            fingerprint=str(data["fingerprint"]),
            labels=as_labels(data["labels"]),
            annotations=tuple(sorted(dict(data["annotations"]).items())),
            status="firing" if data["status"] == "firing" else "resolved",
            starts_at=float(data["starts_at"]),
            ends_at=None if data["ends_at"] is None else float(data["ends_at"]),
            updated_at=float(data["updated_at"]),
        )
