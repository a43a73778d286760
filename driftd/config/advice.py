"""Warnings about a valid config that probably does not do what its author wants.

Not errors: the config runs as written. ``check-config`` prints them and ``run`` logs them.
"""

from __future__ import annotations

from driftd.alerting.matchers import Matcher, parse_matchers
from driftd.alerting.rules import KIND_ALERTNAMES
from driftd.config.models import DriftdConfig

_KNOWN = {"alertname", "monitor"}


def advice(config: DriftdConfig) -> list[str]:
    """Every warning about ``config``: unalerted verdict kinds, settings without effect."""
    out = unalerted(config)
    if config.alerting is not None and config.alerting.ignored_settings:
        out.append(
            "Alertmanager settings accepted without effect (driftd writes its own messages): "
            + ", ".join(config.alerting.ignored_settings)
        )
    return out


def unalerted(config: DriftdConfig) -> list[str]:
    """One line per monitor and verdict kind that no alerting rule can ever turn into an
    alert (the verdicts still reach /metrics, /status and the verdict topic)."""
    if config.alerting is None:
        return []
    rules = [parse_matchers(r.matchers) for r in config.alerting.rules]
    out = []
    for comparison in config.comparisons:
        labels = {"alertname": KIND_ALERTNAMES["comparison"], "monitor": comparison.name}
        if not any(_could_match(matchers, labels) for matchers in rules):
            out.append(
                f"alerting.rules: no rule matches {labels['alertname']} verdicts of comparison "
                f"{comparison.name!r}: they never alert (add a rule, or a rule without matchers)"
            )
    for monitor in config.monitors:
        kinds = ["data"]
        if monitor.prediction_drift:
            kinds.append("prediction")
        if monitor.schema_checks:
            kinds.append("schema")
        if monitor.concept is not None:
            kinds.append("concept")
        for kind in kinds:
            labels = {"alertname": KIND_ALERTNAMES[kind], "monitor": monitor.name}
            if not any(_could_match(matchers, labels) for matchers in rules):
                out.append(
                    f"alerting.rules: no rule matches {labels['alertname']} verdicts of monitor "
                    f"{monitor.name!r} ({kind} drift): they never alert (add a rule, or a "
                    "rule without matchers)"
                )
    return out


def _could_match(matchers: tuple[Matcher, ...], labels: dict[str, str]) -> bool:
    # Matchers on other labels (feature, statistic, segments) may match some verdicts.
    return all(m.matches(labels) for m in matchers if m.name in _KNOWN)
