"""Time intervals: Alertmanager's syntax, evaluation in a time zone, and muting a route."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftd.alerting import build_alerting
from driftd.alerting.config import AlertingConfig, TimeIntervalSpecConfig
from driftd.records import Verdict
from tests.fakes.clock import FakeClock
from tests.fakes.http_apis import FakeApis

WINDOWS = itertools.count(1)


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def _spec(**fields: Any) -> Any:
    return TimeIntervalSpecConfig.model_validate(fields).spec()


def test_each_field_and_the_time_zone() -> None:
    night = _spec(times=[{"start_time": "22:00", "end_time": "24:00"}])
    assert night.contains(_at("2023-11-14T22:13:20+00:00"))
    assert not night.contains(_at("2023-11-14T21:59:59+00:00"))
    berlin = _spec(times=[{"start_time": "22:00", "end_time": "24:00"}], location="Europe/Berlin")
    assert night.contains(_at("2023-11-14T23:30:00+00:00"))
    assert not berlin.contains(_at("2023-11-14T23:30:00+00:00"))  # 00:30 in Berlin (UTC+1)
    assert berlin.contains(_at("2023-11-14T21:13:20+00:00"))  # 22:13 in Berlin
    workdays = _spec(weekdays=["monday:friday"])
    assert workdays.contains(_at("2023-11-17T12:00:00+00:00"))  # a Friday
    assert not workdays.contains(_at("2023-11-18T12:00:00+00:00"))  # a Saturday
    sunday = _spec(weekdays=["sunday"])
    assert sunday.contains(_at("2023-11-19T00:00:00+00:00"))
    last_days = _spec(days_of_month=["-2:-1"])
    assert last_days.contains(_at("2024-02-28T08:00:00+00:00"))  # a leap year: 28 and 29
    assert not last_days.contains(_at("2024-02-27T08:00:00+00:00"))
    assert last_days.contains(_at("2023-11-30T08:00:00+00:00"))
    q1 = _spec(months=["january:march"], years=["2024:2025"])
    assert q1.contains(_at("2025-03-31T23:00:00+00:00"))
    assert not q1.contains(_at("2026-01-01T00:00:00+00:00"))
    assert not q1.contains(_at("2024-04-01T00:00:00+00:00"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weekdays": ["funday"]}, "weekdays: 'funday' is not a number"),
        ({"months": ["13"]}, "months: 13 is outside 1..12"),
        ({"days_of_month": ["10:2"]}, "starts after it ends"),
        ({"times": [{"start_time": "10:00", "end_time": "09:00"}]}, "is not before"),
        ({"times": [{"start_time": "25:00", "end_time": "26:00"}]}, "String should match"),
        ({"location": "Mars/Olympus"}, "not a time zone name"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeIntervalSpecConfig.model_validate(fields)


def _config(api: FakeApis, make_config: Callable[..., AlertingConfig], **route: Any) -> Any:
    return make_config(
        {
            "rules": [{"name": "drift", "for_windows": 1}],
            "time_intervals": [
                {
                    "name": "weeknights",
                    "time_intervals": [
                        {
                            "weekdays": ["monday:friday"],
                            "times": [{"start_time": "22:00", "end_time": "24:00"}],
                        }
                    ],
                }
            ],
            "route": {
                "receiver": "hook",
                "group_wait": "0s",
                "routes": [{"matchers": ['monitor="fraud"'], **route}],
            },
            "receivers": [{"name": "hook", "type": "webhook", "url": api.url + "/hook"}],
        }
    )


def _drift(alerting: Any, make_verdict: Callable[..., Verdict]) -> int:
    """One more drifting window (each window counts once, so each has its own index)."""
    alerting.observe(make_verdict(window_index=next(WINDOWS)))
    alerting.tick()
    return alerting.deliver()


def test_a_muted_route_holds_its_notification_until_the_interval_ends(
    api: FakeApis,
    make_config: Callable[..., AlertingConfig],
    make_verdict: Callable[..., Verdict],
    clock: FakeClock,
) -> None:
    cfg = _config(api, make_config, mute_time_intervals=["weeknights"])
    alerting = build_alerting(cfg, CollectorRegistry(), clock)  # Tuesday 22:13 UTC
    assert _drift(alerting, make_verdict) == 0
    clock.advance(1800)
    assert _drift(alerting, make_verdict) == 0  # still drifting at 22:43: held
    clock.advance(7200)  # Wednesday 00:43: outside the interval
    assert _drift(alerting, make_verdict) == 1
    assert [r.path for r in api.requests] == ["/hook"]


def test_an_active_interval_sends_only_inside_it(
    api: FakeApis,
    make_config: Callable[..., AlertingConfig],
    make_verdict: Callable[..., Verdict],
    clock: FakeClock,
) -> None:
    clock.now = _at("2023-11-14T12:00:00+00:00")
    cfg = _config(api, make_config, active_time_intervals=["weeknights"])
    alerting = build_alerting(cfg, CollectorRegistry(), clock)
    assert _drift(alerting, make_verdict) == 0
    clock.now = _at("2023-11-14T22:00:00+00:00")
    assert _drift(alerting, make_verdict) == 1


def test_unknown_interval_names_and_root_intervals_are_refused(
    api: FakeApis, make_config: Callable[..., AlertingConfig]
) -> None:
    with pytest.raises(ValueError, match="no time interval named 'weekend'"):
        _config(api, make_config, mute_time_intervals=["weekend"])
    with pytest.raises(ValueError, match="root route cannot have"):
        make_config(
            {
                "route": {"receiver": "hook", "mute_time_intervals": ["x"]},
                "time_intervals": [{"name": "x", "time_intervals": [{"weekdays": ["monday"]}]}],
                "receivers": [{"name": "hook", "type": "webhook", "url": "http://h"}],
            }
        )
