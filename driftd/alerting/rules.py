"""Alert rules: which verdicts a rule covers, and the labels and annotations of its alerts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftd.alerting.alert import Labels, as_labels
from driftd.alerting.config import AlertRule
from driftd.alerting.matchers import Matcher, match_all, parse_matchers
from driftd.alerting.timefmt import rfc3339
from driftd.alerting.wording import describe
from driftd.records import Verdict

KIND_ALERTNAMES = {
    "data": "DataDrift",
    "prediction": "PredictionDrift",
    "schema": "DataQuality",
    "concept": "ConceptDrift",
    "comparison": "ModelDivergence",
}


class _Fields(dict[str, Any]):
    # Segment labels differ between monitors; a template naming one that an alert lacks
    # renders it empty rather than failing at runtime.
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders (format specs allowed) from labels and verdict fields."""
    try:
        return template.format_map(_Fields(fields))
    except (ValueError, TypeError):
        # A numeric format spec applied to a label's text; show the template rather than drop it.
        return template


def base_labels(verdict: Verdict) -> dict[str, str]:
    """The labels a verdict brings: its own and segment labels, then the core ones."""
    labels = dict(verdict.labels)
    labels.update(verdict.segment)
    labels.update(
        alertname=KIND_ALERTNAMES.get(verdict.kind, "Drift"),
        monitor=verdict.monitor,
        feature=verdict.feature,
        statistic=verdict.statistic,
    )
    return labels


def verdict_fields(verdict: Verdict) -> dict[str, Any]:
    """Verdict values a template can use, next to the alert's labels."""
    window = f"#{verdict.window_index} ({verdict.window_size} events"
    if not math.isnan(verdict.window_start):
        window += f", {rfc3339(verdict.window_start)} to {rfc3339(verdict.window_end)}"
    return {
        "value": verdict.value,
        "limit": verdict.limit,
        "pvalue": math.nan if verdict.pvalue is None else verdict.pvalue,
        "kind": verdict.kind,
        "detail": verdict.detail,
        "window": window + ")",
        "window_index": verdict.window_index,
        "window_size": verdict.window_size,
        "window_start": "" if math.isnan(verdict.window_start) else rfc3339(verdict.window_start),
        "window_end": "" if math.isnan(verdict.window_end) else rfc3339(verdict.window_end),
    }


@dataclass(frozen=True)
class Rule:
    """A compiled ``AlertRule``."""

    config: AlertRule
    matchers: tuple[Matcher, ...]

    @classmethod
    def compile(cls, config: AlertRule) -> Rule:
        """Parse the rule's matchers once."""
        return cls(config, parse_matchers(config.matchers))

    @property
    def name(self) -> str:
        """The rule's name."""
        return self.config.name

    def applies(self, base: Mapping[str, str]) -> bool:
        """True when this rule covers a verdict with these base labels."""
        return match_all(self.matchers, base)

    def labels(self, base: Mapping[str, str]) -> Labels:
        """The alert's identity: base labels, rule labels, rule alertname and severity."""
        labels = {**base, **self.config.labels}
        for core in ("monitor", "feature", "statistic"):
            labels[core] = base[core]
        labels["alertname"] = self.config.alertname or base["alertname"]
        labels["severity"] = self.config.severity
        return as_labels(labels)

    def annotations(self, labels: Labels, verdict: Verdict) -> Labels:
        """value, limit, window, summary and the rule's own (templated) annotations."""
        fields = {**dict(labels), **verdict_fields(verdict)}
        out = {
            "value": f"{verdict.value:.6g}",
            "limit": f"{verdict.limit:.6g}",
            "window": fields["window"],
            "summary": f"{fields['alertname']} on {verdict.monitor}: {describe(verdict)}",
        }
        if verdict.pvalue is not None:
            out["pvalue"] = f"{verdict.pvalue:.3g}"
        if verdict.detail:
            out["detail"] = verdict.detail
        for key, template in self.config.annotations.items():
            out[key] = render(template, fields)
        return tuple(sorted(out.items()))
