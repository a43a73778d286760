"""The ``alerting:`` section: rules, route tree, receivers, inhibition, silences, delivery.

Every model is frozen and rejects unknown keys. Durations are seconds (a number, or a string
such as ``30s``/``5m``/``4h``); ``*_file`` keys read a secret from a file (relative paths are
resolved against the config file's directory) so tokens can come from Kubernetes secrets or
systemd credentials. The example below is validated by the tests::

    alerting:
      outbox_dir: /var/lib/driftd/alerting     # SQLite outbox, silences and alert state
      external_url: https://driftd.example.com/status
      rules:
        - name: drift
          matchers: ['alertname=~"DataDrift|PredictionDrift"']
          for_windows: 3                       # pending until 3 drifting windows in a row
          keep_firing_for_windows: 2           # and firing through 2 calm windows after
          severity: warning
          labels: {team: ml}
          annotations:
            dashboard_url: https://grafana.example.com/d/drift?var-monitor={monitor}
            runbook_url: https://runbooks.example.com/drift#{feature}
        - name: drift-page
          matchers: ['alertname="DataDrift"', 'statistic="psi"']
          for_windows: 6
          severity: critical
        - name: quality
          matchers: ['alertname="DataQuality"']
          keep_firing_for: 15m
      no_data: {after: 30m, monitors: [fraud]}
      route:
        receiver: slack-ml
        group_by: [alertname, monitor]
        group_wait: 30s
        group_interval: 5m
        repeat_interval: 4h
        routes:
          - matchers: ['severity="critical"']
            receiver: pagerduty-ml
            continue: true
          - matchers: ['alertname="NoData"']
            receiver: webhook-ops
            group_by: ['...']
      inhibit_rules:
        - source_matchers: ['alertname="NoData"']
          target_matchers: ['alertname=~".*Drift"']
          equal: [monitor]
      silences:
        - matchers: ['monitor="fraud"', 'feature="zip_code"']
          ends_at: 2030-01-01T00:00:00Z
          created_by: ops
          comment: zip codes re-mapped upstream
      receivers:
        - name: slack-ml
          type: slack
          channel: "#ml-alerts"
          token_file: /run/secrets/slack-token
        - name: pagerduty-ml
          type: pagerduty
          routing_key_file: /run/secrets/pagerduty-key
        - name: webhook-ops
          type: webhook
          url: https://ops.example.com/hooks/driftd
          bearer_token_file: /run/secrets/ops-token
          max_alerts: 20
        - name: retrain-fraud
          type: retrain
          url: https://ci.example.com/pipelines/retrain
          matchers: ['monitor="fraud"', 'alertname="DataDrift"']
          sustained_for: 2h
      delivery: {initial_backoff: 1s, max_backoff: 5m, max_age: 24h}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator, model_validator

from driftd.alerting.am_receivers import expand, ignored_keys, is_alertmanager_style
from driftd.alerting.config_types import (
    Duration,
    LabelName,
    Model,
    Name,
    PositiveDuration,
    check_matchers,
    check_templates,
)
from driftd.alerting.receiver_config import (
    AlertmanagerReceiver,
    BasicAuth,
    EmailReceiver,
    OpsgenieReceiver,
    PagerDutyReceiver,
    Receiver,
    RetrainReceiver,
    SlackReceiver,
    TeamsReceiver,
    WebhookReceiver,
)
from driftd.alerting.timeintervals import MONTHS, WEEKDAYS, IntervalSpec, parse_ranges

__all__ = [
    "AlertRule",
    "AlertingConfig",
    "AlertmanagerReceiver",
    "BasicAuth",
    "DeliveryConfig",
    "EmailReceiver",
    "InhibitRule",
    "NoDataRule",
    "OpsgenieReceiver",
    "PagerDutyReceiver",
    "Receiver",
    "RetrainReceiver",
    "RouteConfig",
    "SilenceConfig",
    "SlackReceiver",
    "TeamsReceiver",
    "WebhookReceiver",
]


class AlertRule(Model):
    """Turns verdicts into alerts: which verdicts, how long to wait, labels and annotations.

    ``matchers`` see the verdict's labels: ``alertname`` (DataDrift, PredictionDrift,
    DataQuality or ConceptDrift from the verdict kind), ``monitor``, ``feature``, ``statistic``
    and segment labels. A rule fires after ``for_windows`` drifting windows in a row and resolves
    once more than ``keep_firing_for_windows`` calm windows have been seen and ``keep_firing_for``
    seconds have passed since the last drifting one.
    """

    name: Name
    matchers: list[str] = Field(default_factory=list)
    alertname: LabelName | None = None
    severity: str = Field(default="warning", min_length=1)
    for_windows: int = Field(default=1, ge=1)
    keep_firing_for_windows: int = Field(default=0, ge=0)
    keep_firing_for: Duration = 0.0
    resolve_stale_after: PositiveDuration | None = Field(
        default=None, description="resolve an alert whose series got no verdict for this long"
    )
    labels: dict[LabelName, str] = Field(default_factory=dict)
    annotations: dict[LabelName, str] = Field(default_factory=dict)

    _check_matchers = field_validator("matchers")(check_matchers)
    _check_templates = field_validator("annotations")(check_templates)


class NoDataRule(Model):
    """Raise ``alertname`` for a monitor that delivered no window for ``after`` seconds.

    Monitors listed in ``monitors`` are watched from start-up; others once they delivered one
    window.
    """

    after: PositiveDuration
    alertname: LabelName = "NoData"
    severity: str = Field(default="warning", min_length=1)
    monitors: list[str] = Field(default_factory=list)
    labels: dict[LabelName, str] = Field(default_factory=dict)
    annotations: dict[LabelName, str] = Field(default_factory=dict)

    _check_templates = field_validator("annotations")(check_templates)


class TimeRange(Model):
    """A part of the day, ``start_time`` inclusive to ``end_time`` exclusive (``HH:MM``)."""

    start_time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
    end_time: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")

    @property
    def minutes(self) -> tuple[int, int]:
        """(start, end) in minutes of the day."""
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in (self.start_time, self.end_time))
        return start, end

    @model_validator(mode="after")
    def _order(self) -> TimeRange:
        start, end = self.minutes
        if start >= end:
            raise ValueError(f"start_time {self.start_time} is not before end_time {self.end_time}")
        return self


class TimeIntervalSpecConfig(Model):
    """One spec of a time interval (Alertmanager's syntax); unset fields match always."""

    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str | int] = Field(default_factory=list)
    months: list[str | int] = Field(default_factory=list)
    years: list[str | int] = Field(default_factory=list)
    location: str = "UTC"

    @model_validator(mode="after")
    def _parse(self) -> TimeIntervalSpecConfig:
        self.spec()  # raises ValueError naming the field
        return self

    def spec(self) -> IntervalSpec:
        """The evaluable form."""
        try:
            ZoneInfo(self.location)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"location {self.location!r} is not a time zone name") from None
        return IntervalSpec(
            times=tuple(t.minutes for t in self.times),
            weekdays=parse_ranges(self.weekdays, WEEKDAYS, 0, 6, "weekdays"),
            days_of_month=parse_ranges(self.days_of_month, {}, 1, 31, "days_of_month"),
            months=parse_ranges(self.months, MONTHS, 1, 12, "months"),
            years=parse_ranges(self.years, {}, 1, 9999, "years"),
            location=self.location,
        )


class TimeIntervalConfig(Model):
    """A named time interval for routes' ``mute_time_intervals`` / ``active_time_intervals``."""

    name: Name
    time_intervals: list[TimeIntervalSpecConfig] = Field(min_length=1)


class RouteConfig(Model):
    """A node of the route tree; unset settings are inherited from the parent (except the
    time intervals, which apply to their own route only, as in Alertmanager)."""

    receiver: Name | None = None
    matchers: list[str] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: PositiveDuration | None = None
    repeat_interval: PositiveDuration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)
    mute_time_intervals: list[Name] = Field(default_factory=list)
    active_time_intervals: list[Name] = Field(default_factory=list)

    _check_matchers = field_validator("matchers")(check_matchers)
    _legacy = model_validator(mode="before")(
        lambda data: _legacy_matchers(data, ("match", "match_re"), "matchers")
    )

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and "..." in value and value != ["..."]:
            raise ValueError("group_by: '...' (every label) cannot be combined with names")
        if value is not None:
            for name in value:
                if name != "..." and not name.isidentifier():
                    raise ValueError(f"group_by: {name!r} is not a label name")
        return value


class InhibitRule(Model):
    """Mute alerts matching ``target_matchers`` while one matching ``source_matchers`` fires
    with the same values of the ``equal`` labels."""

    source_matchers: list[str] = Field(min_length=1)
    target_matchers: list[str] = Field(min_length=1)
    equal: list[LabelName] = Field(default_factory=list)

    _check_source = field_validator("source_matchers")(check_matchers)
    _check_target = field_validator("target_matchers")(check_matchers)
    _legacy = model_validator(mode="before")(
        lambda data: _legacy_matchers(
            _legacy_matchers(data, ("source_match", "source_match_re"), "source_matchers"),
            ("target_match", "target_match_re"),
            "target_matchers",
        )
    )


def _legacy_matchers(data: Any, keys: tuple[str, str], into: str) -> Any:
    """Alertmanager's older ``match`` / ``match_re`` maps (still in many pasted configs) as
    matchers: ``{severity: critical}`` is ``severity="critical"``, a ``_re`` value ``=~``."""
    if not isinstance(data, dict) or not any(k in data for k in keys):
        return data
    data = dict(data)
    matchers = list(data.get(into) or [])
    for key, op in zip(keys, ("=", "=~"), strict=True):
        given = data.pop(key, None)
        if given is None:
            continue
        if not isinstance(given, dict):
            raise ValueError(f"{key} must be a map of label name to value")
        for name, value in given.items():
            if not isinstance(value, str | int | float | bool):
                raise ValueError(f"{key}.{name} must be a string")
            text = value if isinstance(value, str) else str(value).lower()
            matchers.append(f"{name}{op}{json.dumps(text)}")
    data[into] = matchers
    return data


class SilenceConfig(Model):
    """A silence defined in the config (others are added at runtime through the API)."""

    id: Name | None = None
    matchers: list[str] = Field(min_length=1)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    created_by: str = "config"
    comment: str = ""

    _check_matchers = field_validator("matchers")(check_matchers)


class DeliveryConfig(Model):
    """Retry policy of the outbox worker: exponential backoff with jitter, then give up."""

    initial_backoff: PositiveDuration = 1.0
    max_backoff: PositiveDuration = 300.0
    max_age: PositiveDuration = Field(default=86400.0, description="drop an entry this old")

    @model_validator(mode="after")
    def _check(self) -> DeliveryConfig:
        if self.max_backoff < self.initial_backoff:
            raise ValueError("max_backoff must be at least initial_backoff")
        return self


def _default_rules() -> list[AlertRule]:
    return [AlertRule(name="drift")]


class AlertingConfig(Model):
    """The whole ``alerting:`` section."""

    outbox_dir: Path = Path("/var/lib/driftd/alerting")
    external_url: str | None = None
    rules: list[AlertRule] = Field(default_factory=_default_rules)
    no_data: NoDataRule | None = None
    route: RouteConfig
    receivers: list[Receiver] = Field(min_length=1)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    silences: list[SilenceConfig] = Field(default_factory=list)
    delivery: DeliveryConfig = DeliveryConfig()
    # What a backlog (a restart, an outage, a new consumer group) notifies: "replay" sends
    # what a live run would have sent, in event time; "head" only the alerts still firing
    # once the consumer has caught up, with their original start times.
    catch_up: Literal["replay", "head"] = "replay"
    # Named intervals for routes' mute_time_intervals / active_time_intervals; Alertmanager's
    # older top-level ``mute_time_intervals`` list is read the same way.
    time_intervals: list[TimeIntervalConfig] = Field(default_factory=list)
    mute_time_intervals: list[TimeIntervalConfig] = Field(default_factory=list)
    # A route's receiver name standing for several receivers; filled from receivers written
    # in Alertmanager's syntax (``name`` + ``slack_configs`` / ``pagerduty_configs`` /
    # ``webhook_configs``), one receiver per integration (see am_receivers.py).
    receiver_groups: dict[Name, list[Name]] = Field(default_factory=dict)
    # Settings of such receivers that driftd accepts but does not use (check-config lists them).
    ignored_settings: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _alertmanager_receivers(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("receivers"), list):
            return data
        if not any(is_alertmanager_style(r) for r in data["receivers"]):
            return data
        data = dict(data)
        receivers: list[Any] = []
        groups = dict(data.get("receiver_groups") or {})
        ignored = list(data.get("ignored_settings") or [])
        for i, entry in enumerate(data["receivers"]):
            if not is_alertmanager_style(entry):
                receivers.append(entry)
                continue
            made, names = expand(entry, f"alerting.receivers[{i}]")
            receivers.extend(made)
            groups[entry["name"]] = names
            ignored += [f"alerting.receivers[{i}].{k}" for k in ignored_keys(entry)]
        data.update(receivers=receivers, receiver_groups=groups, ignored_settings=ignored)
        return data

    def receivers_of(self, name: str) -> list[str]:
        """The receivers a route's receiver name delivers to."""
        return self.receiver_groups.get(name, [name])

    @property
    def intervals(self) -> dict[str, tuple[IntervalSpec, ...]]:
        """Every named interval in evaluable form."""
        return {
            t.name: tuple(spec.spec() for spec in t.time_intervals)
            for t in [*self.time_intervals, *self.mute_time_intervals]
        }

    @field_validator("outbox_dir")
    @classmethod
    def _outbox_dir(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        return Path(base) / value if base and not value.is_absolute() else value

    @model_validator(mode="after")
    def _graph(self) -> AlertingConfig:
        problems: list[str] = []
        kinds = {r.name: r.type for r in self.receivers}
        if len(kinds) != len(self.receivers):
            names = [r.name for r in self.receivers]
            twice = sorted({n for n in names if names.count(n) > 1})
            problems.append(f"alerting.receivers: names used twice: {twice}")
        for group, members in self.receiver_groups.items():
            if group in kinds:
                problems.append(f"alerting.receivers: {group!r} names a receiver and a group")
            missing = [m for m in members if m not in kinds]
            if missing:
                problems.append(f"alerting.receiver_groups.{group}: no receivers {missing}")
            kinds.setdefault(group, "group")
        rule_names = [r.name for r in self.rules]
        if len(set(rule_names)) != len(rule_names):
            problems.append("alerting.rules: every rule needs its own name")
        identities = [
            (r.alertname, r.severity, tuple(sorted(r.labels.items())), tuple(r.matchers))
            for r in self.rules
        ]
        for i, identity in enumerate(identities):
            if identity in identities[:i]:
                problems.append(
                    f"alerting.rules[{i}]: same alertname, severity, labels and matchers as an "
                    "earlier rule, so both would produce the same alerts"
                )
        if self.route.receiver is None:
            problems.append("alerting.route.receiver: the root route needs a receiver")
        if self.route.matchers:
            problems.append("alerting.route.matchers: the root route matches every alert")
        if self.route.mute_time_intervals or self.route.active_time_intervals:
            problems.append(
                "alerting.route: the root route cannot have mute or active time intervals "
                "(as in Alertmanager): set them on a child route"
            )
        interval_names = [t.name for t in [*self.time_intervals, *self.mute_time_intervals]]
        if len(set(interval_names)) != len(interval_names):
            twice = sorted({n for n in interval_names if interval_names.count(n) > 1})
            problems.append(f"alerting.time_intervals: names used twice: {twice}")
        stack: list[tuple[str, RouteConfig]] = [("alerting.route", self.route)]
        while stack:
            path, node = stack.pop()
            if node.receiver is not None and node.receiver not in kinds:
                problems.append(
                    f"{path}.receiver: no receiver named {node.receiver!r} "
                    f"(receivers: {sorted(kinds)})"
                )
            elif node.receiver is not None and kinds[node.receiver] in ("retrain", "alertmanager"):
                what = {"retrain": "a retrain trigger", "alertmanager": "an Alertmanager push"}
                problems.append(
                    f"{path}.receiver: {node.receiver!r} is {what[kinds[node.receiver]]}, which "
                    "picks its alerts with its own matchers and cannot be routed to"
                )
            for key in ("mute_time_intervals", "active_time_intervals"):
                for name in getattr(node, key):
                    if name not in interval_names:
                        problems.append(
                            f"{path}.{key}: no time interval named {name!r} "
                            f"(alerting.time_intervals: {sorted(interval_names)})"
                        )
            stack.extend((f"{path}.routes[{i}]", child) for i, child in enumerate(node.routes))
        if problems:
            raise ValueError("\n".join(problems))
        return self
