"""driftd pushes its alerts to a real Alertmanager, keeps them alive, and resolves them there."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftd.alerting import AlertingConfig, build_alerting
from driftd.alerting.alert import Alert, alertmanager_fingerprint, as_labels
from driftd.alerting.config import RouteConfig
from driftd.alerting.routing import Route
from driftd.records import State, Verdict
from tests.fakes.http_apis import FakeApis
from tests.integration.helpers import wait_until
from tests.tools import Alertmanager, find

pytestmark = pytest.mark.integration


def _binary() -> str:
    binary = find("DRIFTD_TEST_ALERTMANAGER", "prometheus-alertmanager", "alertmanager")
    if binary is None:
        pytest.skip("no alertmanager binary (scripts/tools.sh installs prometheus-alertmanager)")
    return binary


@pytest.fixture
def alertmanager() -> Iterator[Alertmanager]:
    am = Alertmanager(_binary()).start()
    yield am
    am.stop()


def _verdict(feature: str, drift: bool) -> Verdict:
    return Verdict(
        monitor="fraud",
        feature=feature,
        statistic="psi",
        value=0.3 if drift else 0.05,
        limit=0.2,
        state=State.DRIFT if drift else State.OK,
        window_index=7,
        window_size=5000,
    )


def _config(tmp_path: Path, api: FakeApis, urls: list[str]) -> AlertingConfig:
    data: dict[str, Any] = {
        "outbox_dir": str(tmp_path / "alerting"),
        "rules": [{"name": "drift", "for_windows": 1, "severity": "critical"}],
        "route": {"receiver": "hook", "group_wait": "0s"},
        "receivers": [
            {"name": "hook", "type": "webhook", "url": api.url + "/hook"},
            {"name": "am", "type": "alertmanager", "urls": urls, "resend_interval": "1s"},
        ],
        "delivery": {"initial_backoff": "0.2s", "max_backoff": "1s"},
    }
    return AlertingConfig.model_validate(data, context={"base_dir": tmp_path})


def _active(am: Alertmanager) -> dict[str, dict[str, Any]]:
    return {
        a["labels"]["feature"]: a
        for a in am.alerts()
        if a["status"]["state"] == "active" and a["labels"].get("monitor") == "fraud"
    }


def test_alerts_pushed_to_alertmanager_then_resolved(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    with FakeApis() as api:
        # An HA pair with one member down: the other still gets every push.
        down = "http://127.0.0.1:9"
        alerting = build_alerting(
            _config(tmp_path, api, [down, alertmanager.url]), CollectorRegistry(), time.time
        )
        try:
            alerting.observe_window([_verdict("age", True), _verdict("income", True)])
            alerting.tick()
            alerting.deliver()
            active = _active(alertmanager)
            assert sorted(active) == ["age", "income"], alertmanager.alerts()
            age = active["age"]
            assert age["labels"]["alertname"] == "DataDrift"
            assert age["labels"]["severity"] == "critical"
            assert "0.3" in age["annotations"]["summary"]
            ends = age["endsAt"]

            # Still firing: resent, so Alertmanager moves its end on.
            time.sleep(1.1)
            alerting.observe_window([_verdict("age", True), _verdict("income", True)])
            alerting.tick()
            alerting.deliver()
            assert _active(alertmanager)["age"]["endsAt"] > ends

            # income calms down: resolved in Alertmanager, age keeps firing.
            alerting.observe_window([_verdict("age", True), _verdict("income", False)])
            alerting.tick()
            alerting.deliver()
            wait_until(lambda: sorted(_active(alertmanager)) == ["age"], 10, "income resolved")
            alerting.observe_window([_verdict("age", False), _verdict("income", False)])
            alerting.tick()
            alerting.deliver()
            wait_until(lambda: _active(alertmanager) == {}, 10, "age resolved")
        finally:
            alerting.close(timeout=1.0)


ROUTES = {
    "receiver": "hook",
    "group_by": ["monitor"],
    "group_wait": "1s",
    "routes": [
        {"matchers": ['severity=~"critical|warning"', 'monitor="fraud"'], "receiver": "hook"},
    ],
}


def test_webhook_identities_are_alertmanagers(tmp_path: Path) -> None:
    """The same route tree and alert in a real Alertmanager and in driftd give the same
    groupKey and fingerprint in the webhook payload."""
    labels = {
        "alertname": "DataDrift",
        "monitor": "fraud",
        "feature": "âge",
        "statistic": "psi",
        "severity": "critical",
    }
    with FakeApis() as api:
        hook = api.url + "/am"
        am_config = json.dumps(
            {"route": ROUTES, "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}]}
        )
        am = Alertmanager(_binary(), am_config).start()
        try:
            body = json.dumps([{"labels": labels, "annotations": {"summary": "s"}}]).encode()
            request = urllib.request.Request(
                am.url + "/api/v2/alerts", body, {"Content-Type": "application/json"}
            )
            urllib.request.urlopen(request, timeout=5).close()
            assert api.wait_for(1, timeout=20), am.log()[-2000:]
        finally:
            am.stop()
        [sent] = api.requests
    route = Route.build(RouteConfig.model_validate(ROUTES))
    [leaf] = route.match(labels)
    alert = Alert.firing(as_labels(labels), (("summary", "s"),), 0.0, 0.0)
    assert leaf.am_group_key(leaf.group_labels(alert.labels)) == sent.body["groupKey"]
    assert alertmanager_fingerprint(alert.labels) == sent.body["alerts"][0]["fingerprint"]
