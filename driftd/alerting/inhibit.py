"""Inhibition: a firing source alert mutes target alerts that share its ``equal`` labels.

As in Alertmanager, a label missing from an alert counts as empty, and an alert matching both
sides of a rule never mutes itself. Without ``equal`` a source mutes targets everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from driftd.alerting.alert import Alert
from driftd.alerting.config import InhibitRule
from driftd.alerting.matchers import Matcher, match_all, parse_matchers


@dataclass(frozen=True)
class _Rule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


class Inhibitor:
    """Compiled inhibit rules."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self._rules = [
            _Rule(
                parse_matchers(r.source_matchers),
                parse_matchers(r.target_matchers),
                tuple(r.equal),
            )
            for r in rules
        ]

    def muter(self, firing: Iterable[Alert]) -> Callable[[Alert], bool]:
        """A predicate telling whether the given firing alerts inhibit an alert."""
        firing = list(firing)
        # Per rule: equal-label values of its sources → the sources' fingerprints.
        sources: list[dict[tuple[str, ...], set[str]]] = []
        for rule in self._rules:
            index: dict[tuple[str, ...], set[str]] = {}
            for alert in firing:
                labels = alert.label_map
                if match_all(rule.source, labels):
                    key = tuple(labels.get(name, "") for name in rule.equal)
                    index.setdefault(key, set()).add(alert.fingerprint)
            sources.append(index)

        def inhibited(alert: Alert) -> bool:
            labels = alert.label_map
            for rule, index in zip(self._rules, sources, strict=True):
                if not index or not match_all(rule.target, labels):
                    continue
                found = index.get(tuple(labels.get(name, "") for name in rule.equal), set())
                if found - {alert.fingerprint}:
                    return True
            return False

        return inhibited
