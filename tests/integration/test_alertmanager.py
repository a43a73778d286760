"""driftd pushes its alerts to a real Alertmanager, keeps them alive, and resolves them there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftd.alerting import AlertingConfig, build_alerting
from driftd.records import State, Verdict
from tests.fakes.http_apis import FakeApis
from tests.integration.helpers import wait_until
from tests.tools import Alertmanager, find

pytestmark = pytest.mark.integration


@pytest.fixture
def alertmanager() -> Iterator[Alertmanager]:
    binary = find("DRIFTD_TEST_ALERTMANAGER", "prometheus-alertmanager", "alertmanager")
    if binary is None:
        pytest.skip("no alertmanager binary (scripts/tools.sh installs prometheus-alertmanager)")
    am = Alertmanager(binary).start()
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
