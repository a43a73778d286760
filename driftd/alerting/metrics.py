"""Alerting metrics on an injected registry, named after Alertmanager's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

FAILURE_REASONS = ("rate_limited", "retryable", "rejected", "expired")
ALERT_STATES = ("pending", "firing")


@dataclass
class AlertingMetrics:
    """The alerting subsystem's metrics."""

    notifications: Counter
    notifications_failed: Counter
    latency: Histogram
    outbox_pending: Gauge
    alerts: Gauge
    _alert_series: set[tuple[str, str]] = field(default_factory=set)

    def preset(self, receivers: Iterable[tuple[str, str]]) -> None:
        """Create every (receiver, integration) series at 0, so a rate() over a receiver that
        never failed reads 0 rather than nothing. A failing and a working webhook are two
        receivers, hence two series."""
        for receiver, integration in receivers:
            self.notifications.labels(receiver=receiver, integration=integration)
            self.latency.labels(receiver=receiver, integration=integration)
            for reason in FAILURE_REASONS:
                self.notifications_failed.labels(
                    receiver=receiver, integration=integration, reason=reason
                )

    def set_alerts(self, counts: Iterable[tuple[str, str, int]]) -> None:
        """Set ``driftd_alerts`` from (alertname, state, count); vanished series drop to 0."""
        seen: set[tuple[str, str]] = set()
        for alertname, state, count in counts:
            self.alerts.labels(alertname=alertname, state=state).set(count)
            seen.add((alertname, state))
        for alertname, state in self._alert_series - seen:
            self.alerts.labels(alertname=alertname, state=state).set(0)
        self._alert_series |= seen


def build_alerting_metrics(registry: CollectorRegistry) -> AlertingMetrics:
    """Register the alerting metrics (``AlertingMetrics.preset`` creates the receivers' series)."""
    return AlertingMetrics(
        notifications=Counter(
            "driftd_notifications",
            "Notification delivery attempts, per receiver and integration",
            ["receiver", "integration"],
            registry=registry,
        ),
        notifications_failed=Counter(
            "driftd_notifications_failed",
            "Failed notification delivery attempts, per receiver, integration and reason",
            ["receiver", "integration", "reason"],
            registry=registry,
        ),
        latency=Histogram(
            "driftd_notification_latency_seconds",
            "Time a receiver took to accept or refuse a notification",
            ["receiver", "integration"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0),
            registry=registry,
        ),
        outbox_pending=Gauge(
            "driftd_outbox_pending", "Notifications waiting in the outbox", registry=registry
        ),
        alerts=Gauge(
            "driftd_alerts",
            "Alerts per alertname and state (pending, firing)",
            ["alertname", "state"],
            registry=registry,
        ),
    )
