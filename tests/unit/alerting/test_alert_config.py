"""The alerting config: the documented example validates; mistakes are named by key path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

import driftd.alerting.config as config_module
from driftd.alerting import AlertingConfig, build_alerting
from driftd.alerting.receiver_config import PagerDutyReceiver, SlackReceiver

MakeConfig = Callable[[dict[str, Any]], AlertingConfig]


def _documented_example(tmp_path: Path) -> dict[str, Any]:
    doc = config_module.__doc__ or ""
    text = textwrap.dedent(doc[doc.index("    alerting:") :])
    for name in ("slack-token", "pagerduty-key", "ops-token"):
        (tmp_path / name).write_text(f"secret-{name}\n")
    text = text.replace("/run/secrets/", f"{tmp_path}/")
    text = text.replace("/var/lib/driftd/alerting", str(tmp_path / "alerting"))
    return yaml.safe_load(text)["alerting"]


def test_documented_example_validates_and_builds(tmp_path: Path) -> None:
    config = AlertingConfig.model_validate(_documented_example(tmp_path))
    assert [r.name for r in config.rules] == ["drift", "drift-page", "quality"]
    assert config.rules[0].for_windows == 3
    assert config.rules[2].keep_firing_for == 900.0
    assert config.route.group_interval == 300.0
    assert config.route.repeat_interval == 4 * 3600.0
    assert config.route.routes[0].continue_ is True
    assert config.no_data is not None and config.no_data.after == 1800.0
    slack = config.receivers[0]
    assert isinstance(slack, SlackReceiver)
    assert slack.token is not None and slack.token.get_secret_value() == "secret-slack-token"
    assert config.receivers[3].type == "retrain"
    assert config.delivery.max_backoff == 300.0
    alerting = build_alerting(config, CollectorRegistry())
    assert alerting.status()["outbox"]["pending"] == 0
    alerting.close(timeout=1.0)


BASE: dict[str, Any] = {
    "route": {"receiver": "pd"},
    "receivers": [{"name": "pd", "type": "pagerduty", "routing_key": "k"}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # A route naming a receiver that does not exist.
        (
            {"route": {"receiver": "pd", "routes": [{"receiver": "nope"}]}},
            "alerting.route.routes[0].receiver: no receiver named 'nope'",
        ),
        # The root must name a receiver and match everything.
        ({"route": {"group_wait": 1}}, "the root route needs a receiver"),
        ({"route": {"receiver": "pd", "matchers": ["a=b"]}}, "root route matches every alert"),
        # Retrain triggers pick their own alerts.
        (
            {
                "route": {"receiver": "r"},
                "receivers": [
                    {"name": "r", "type": "retrain", "url": "http://x", "sustained_for": "1h"}
                ],
            },
            "is a retrain trigger",
        ),
        # Names are unique.
        ({"receivers": [BASE["receivers"][0], BASE["receivers"][0]]}, "names used twice"),
        (
            {"rules": [{"name": "a"}, {"name": "a", "severity": "critical"}]},
            "every rule needs its own name",
        ),
        ({"rules": [{"name": "a"}, {"name": "b"}]}, "would produce the same alerts"),
        # Field-level checks.
        ({"rules": [{"name": "a", "matchers": ["nonsense"]}]}, "invalid matcher"),
        ({"rules": [{"name": "a", "for_windows": 0}]}, "greater than or equal to 1"),
        ({"rules": [{"name": "a", "annotations": {"x": "{value.real}"}}]}, "must name a label"),
        ({"route": {"receiver": "pd", "group_by": ["...", "monitor"]}}, "cannot be combined"),
        ({"route": {"receiver": "pd", "group_interval": "soon"}}, "invalid duration"),
        ({"route": {"receiver": "pd", "group_interval": 0}}, "greater than 0"),
        ({"delivery": {"initial_backoff": 10, "max_backoff": 1}}, "at least initial_backoff"),
        (
            {"inhibit_rules": [{"source_matchers": [], "target_matchers": ["a=b"]}]},
            "at least 1 item",
        ),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_config_errors(make_config: MakeConfig, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_config({**BASE, **change})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channel": "#x"}, "a token .* or a webhook_url"),
        ({"channel": "#x", "token": "t", "webhook_url": "http://h"}, "not both"),
        ({"token": "t"}, "needs a channel"),
        ({"channel": "#x", "token": "t", "token_file": "f"}, "not both"),
    ],
)
def test_slack_receiver_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlackReceiver.model_validate({"name": "s", "type": "slack", **fields})


def test_secret_files_resolve_against_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("  abc123\n")
    receiver = PagerDutyReceiver.model_validate(
        {"name": "pd", "type": "pagerduty", "routing_key_file": "key"},
        context={"base_dir": tmp_path},
    )
    assert receiver.routing_key is not None
    assert receiver.routing_key.get_secret_value() == "abc123"
    assert "abc123" not in repr(receiver)


def test_relative_outbox_dir_resolves_against_the_config_directory(tmp_path: Path) -> None:
    config = AlertingConfig.model_validate(
        {**BASE, "outbox_dir": "state/alerting"}, context={"base_dir": tmp_path}
    )
    assert config.outbox_dir == tmp_path / "state/alerting"


def test_alertmanager_match_and_match_re_become_matchers() -> None:
    from driftd.alerting.config import InhibitRule, RouteConfig

    route = RouteConfig.model_validate(
        {
            "receiver": "x",
            "matchers": ['monitor="fraud"'],
            "match": {"severity": "critical"},
            "match_re": {"feature": "age|income"},
            "routes": [{"match": {"team": "ml"}}],
        }
    )
    assert route.matchers == ['monitor="fraud"', 'severity="critical"', 'feature=~"age|income"']
    assert route.routes[0].matchers == ['team="ml"']
    rule = InhibitRule.model_validate(
        {"source_match": {"alertname": "NoData"}, "target_match_re": {"alertname": ".*Drift"}}
    )
    assert (rule.source_matchers, rule.target_matchers) == (
        ['alertname="NoData"'],
        ['alertname=~".*Drift"'],
    )
    with pytest.raises(ValueError, match="match must be a map"):
        RouteConfig.model_validate({"match": ["severity=critical"]})
    with pytest.raises(ValueError, match="invalid regex"):
        RouteConfig.model_validate({"match_re": {"feature": "("}})


def test_slack_base_url_is_the_api_root_with_its_slash() -> None:
    from driftd.alerting.receiver_config import PagerDutyReceiver, SlackReceiver

    fields = {"name": "s", "type": "slack", "channel": "#x", "token": "t"}
    slack = SlackReceiver.model_validate({**fields, "base_url": "http://127.0.0.1:1/api"})
    assert slack.base_url == "http://127.0.0.1:1/api/"
    with pytest.raises(ValueError, match="base_url"):
        SlackReceiver.model_validate({**fields, "base_url": "slack.com/api/"})
    pd = {"name": "p", "type": "pagerduty", "routing_key": "k" * 32}
    with pytest.raises(ValueError, match="base_url"):
        PagerDutyReceiver.model_validate({**pd, "base_url": "events.pagerduty.com"})
