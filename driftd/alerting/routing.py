"""The route tree: which receivers an alert goes to, and how it is grouped and timed there.

As in Alertmanager, the root matches every alert; children are tried in order and the first
that matches wins unless it sets ``continue``; a node whose children all miss handles the alert
itself. Children inherit every setting they leave unset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from driftd.alerting.alert import Labels
from driftd.alerting.config import RouteConfig
from driftd.alerting.matchers import Matcher, match_all, parse_matchers

DEFAULT_GROUP_BY = ("alertname", "monitor")
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True)
class Route:
    """A resolved route node: every setting filled in from its ancestors.

    ``group_by`` is None for ``['...']``: every label groups, so each alert is its own group.
    """

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...] | None
    group_wait: float
    group_interval: float
    repeat_interval: float
    routes: tuple[Route, ...]
    # Alertmanager's route key: ``{}`` for the root, ``{}/{monitor="fraud"}`` below it.
    am_key: str = "{}"
    # Named time intervals of this route only (not inherited, as in Alertmanager).
    mute_intervals: tuple[str, ...] = ()
    active_intervals: tuple[str, ...] = ()

    @classmethod
    def build(cls, config: RouteConfig, parent: Route | None = None, id: str = "root") -> Route:
        """Resolve a config tree; ``id`` is the node's path (``root/0/1``), stable per config."""
        group_by: tuple[str, ...] | None
        if config.group_by is None:
            group_by = parent.group_by if parent is not None else DEFAULT_GROUP_BY
        else:
            group_by = None if config.group_by == ["..."] else tuple(config.group_by)

        def inherit(own: float | None, attr: str, default: float) -> float:
            if own is not None:
                return own
            return float(getattr(parent, attr)) if parent is not None else default

        receiver = config.receiver or (parent.receiver if parent is not None else "")
        node = cls(
            id=id,
            receiver=receiver,
            matchers=parse_matchers(config.matchers),
            continue_=config.continue_,
            group_by=group_by,
            group_wait=inherit(config.group_wait, "group_wait", DEFAULT_GROUP_WAIT),
            group_interval=inherit(config.group_interval, "group_interval", DEFAULT_GROUP_INTERVAL),
            repeat_interval=inherit(
                config.repeat_interval, "repeat_interval", DEFAULT_REPEAT_INTERVAL
            ),
            routes=(),
            am_key=_am_key(parent, parse_matchers(config.matchers)),
            mute_intervals=tuple(config.mute_time_intervals),
            active_intervals=tuple(config.active_time_intervals),
        )
        children = tuple(cls.build(c, node, f"{id}/{i}") for i, c in enumerate(config.routes))
        object.__setattr__(node, "routes", children)
        return node

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes (leaves of the walk) that handle an alert with these labels."""
        if not match_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Labels) -> Labels:
        """The subset of ``labels`` that names the alert's aggregation group on this route."""
        if self.group_by is None:
            return labels
        return tuple((k, v) for k, v in labels if k in self.group_by)

    def am_group_key(self, group_labels: Labels) -> str:
        """Alertmanager's groupKey: ``{}/{monitor="fraud"}:{alertname="DataDrift", ...}``."""
        inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in group_labels if v)
        return f"{self.am_key}:{{{inner}}}"

    def group_key(self, group_labels: Labels) -> str:
        """``root/1:{alertname="DataDrift",monitor="fraud"}``: unique per route and group."""
        inner = ",".join(f"{k}={json.dumps(v)}" for k, v in group_labels)
        return f"{self.id}:{{{inner}}}"

    def walk(self) -> list[Route]:
        """This node and all its descendants, depth first."""
        out = [self]
        for child in self.routes:
            out.extend(child.walk())
        return out


_AM_TYPES = {"=": 0, "!=": 1, "=~": 2, "!~": 3}  # Alertmanager's MatchType order


def _am_key(parent: Route | None, matchers: tuple[Matcher, ...]) -> str:
    # Alertmanager sorts a route's matchers by name, value, then type, and quotes the value.
    ordered = sorted(matchers, key=lambda m: (m.name, m.value, _AM_TYPES[m.op]))
    own = "{" + ",".join(f"{m.name}{m.op}{_quote(m.value)}" for m in ordered) + "}"
    return own if parent is None else f"{parent.am_key}/{own}"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{escaped}"'
