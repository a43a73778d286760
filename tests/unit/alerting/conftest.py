"""Factories and fakes shared by the alerting tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftd.alerting.alert import Alert, as_labels
from driftd.alerting.config import AlertingConfig
from driftd.records import State, Verdict
from tests.fakes.clock import FakeClock
from tests.fakes.http_apis import FakeApis


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def api() -> Iterator[FakeApis]:
    with FakeApis() as server:
        yield server


@pytest.fixture
def make_verdict() -> Callable[..., Verdict]:
    """Verdict(monitor=fraud, feature=age, statistic=psi, 0.3 > 0.2, drift) with overrides."""

    def make(drift: bool = True, **overrides: Any) -> Verdict:
        fields: dict[str, Any] = {
            "monitor": "fraud",
            "feature": "age",
            "statistic": "psi",
            "value": 0.3 if drift else 0.1,
            "limit": 0.2,
            "state": State.DRIFT if drift else State.OK,
            "window_index": 7,
            "window_size": 5000,
        }
        fields.update(overrides)
        return Verdict(**fields)

    return make


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    """A firing alert from keyword labels (alertname defaults to DataDrift)."""

    def make(starts_at: float = 1_700_000_000.0, **labels: str) -> Alert:
        labels.setdefault("alertname", "DataDrift")
        return Alert.firing(as_labels(labels), (("summary", "s"),), starts_at, starts_at)

    return make


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., AlertingConfig]:
    """An AlertingConfig from a dict, with the outbox in ``tmp_path``."""

    def make(data: dict[str, Any]) -> AlertingConfig:
        data = {"outbox_dir": str(tmp_path / "alerting"), **data}
        return AlertingConfig.model_validate(data, context={"base_dir": tmp_path})

    return make
