"""Receivers pasted in Alertmanager's syntax: parsed, fanned out per integration, delivered."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from driftd.alerting import build_alerting
from driftd.alerting.config import AlertingConfig
from driftd.config.advice import advice
from driftd.records import Verdict
from tests.fakes.clock import FakeClock
from tests.fakes.http_apis import FakeApis

WINDOWS = itertools.count(1)
KEY = "R0UT1NGKEY00000000000000000000AB"
TLS = {"tls_config": {"cert_file": "c.pem"}}

# As in Alertmanager's documentation, templates included.
BLOCK = """
- name: ml-team
  slack_configs:
    - api_url: {slack}
      channel: '#ml-alerts'
      send_resolved: true
      title: '{{{{ template "slack.default.title" . }}}}'
      text: '{{{{ range .Alerts }}}}{{{{ .Annotations.summary }}}}{{{{ end }}}}'
  pagerduty_configs:
    - routing_key: {key}
      url: {api}/v2/enqueue
      severity: '{{{{ .CommonLabels.severity }}}}'
      description: '{{{{ .CommonAnnotations.summary }}}}'
  webhook_configs:
    - url: {api}/hook
      http_config:
        basic_auth: {{username: am, password: s3cret}}
        follow_redirects: true
"""


def _config(api: FakeApis, make_config: Callable[..., AlertingConfig]) -> AlertingConfig:
    receivers = yaml.safe_load(BLOCK.format(slack=api.slack_webhook_url, key=KEY, api=api.url))
    return make_config(
        {
            "rules": [{"name": "drift", "for_windows": 1, "severity": "critical"}],
            "route": {"receiver": "ml-team", "group_wait": "0s", "group_interval": "1m"},
            "receivers": receivers,
        }
    )


def test_a_pasted_block_becomes_one_receiver_per_integration(
    api: FakeApis, make_config: Callable[..., AlertingConfig]
) -> None:
    cfg = _config(api, make_config)
    assert [(r.name, r.type) for r in cfg.receivers] == [
        ("ml-team.slack.0", "slack"),
        ("ml-team.pagerduty.0", "pagerduty"),
        ("ml-team.webhook.0", "webhook"),
    ]
    assert cfg.receiver_groups == {
        "ml-team": ["ml-team.slack.0", "ml-team.pagerduty.0", "ml-team.webhook.0"]
    }
    assert cfg.ignored_settings == [
        "alerting.receivers[0].slack_configs[0].text",
        "alerting.receivers[0].slack_configs[0].title",
        "alerting.receivers[0].pagerduty_configs[0].description",
        "alerting.receivers[0].pagerduty_configs[0].severity",
        "alerting.receivers[0].webhook_configs[0].http_config.follow_redirects",
    ]


def test_a_drift_routed_to_it_reaches_every_integration(
    api: FakeApis,
    make_config: Callable[..., AlertingConfig],
    make_verdict: Callable[..., Verdict],
    clock: FakeClock,
) -> None:
    alerting = build_alerting(_config(api, make_config), CollectorRegistry(), clock)
    alerting.observe(make_verdict(window_index=next(WINDOWS)))
    alerting.tick()
    assert alerting.deliver() == 3
    paths = sorted(r.path for r in api.requests)
    assert paths == sorted(["/hook", "/v2/enqueue", api.slack_webhook_url.split(api.url)[1]])
    hook = next(r for r in api.requests if r.path == "/hook")
    assert hook.headers["authorization"] == "Basic YW06czNjcmV0"
    enqueue = next(r for r in api.requests if r.path == "/v2/enqueue")
    assert enqueue.body["routing_key"] == KEY
    # The drift ends: every integration hears of it (send_resolved on all three here).
    clock.advance(60)
    alerting.observe(make_verdict(drift=False, window_index=next(WINDOWS)))
    clock.advance(60)
    alerting.tick()
    assert alerting.deliver() == 3


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"name": "x", "pagerduty_configs": [{"service_key": "k"}]}, "Events API v1"),
        ({"name": "x", "victorops_configs": [{"api_key": "k"}]}, "not supported here"),
        ({"name": "x", "webhook_configs": [{"url": "http://h", "frobnicate": 1}]}, "frobnicate"),
        (
            {"name": "x", "webhook_configs": [{"url": "http://h", "http_config": TLS}]},
            "tls_config",
        ),
        ({"slack_configs": [{"api_url": "http://h"}]}, "needs a name"),
    ],
)
def test_what_driftd_cannot_honour_is_refused_by_key(
    make_config: Callable[..., AlertingConfig], block: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_config({"route": {"receiver": "x"}, "receivers": [block]})


def test_check_config_lists_the_settings_without_effect(
    api: FakeApis, make_config: Callable[..., AlertingConfig]
) -> None:
    from driftd.config.models import DriftdConfig

    cfg = _config(api, make_config)
    full = DriftdConfig.model_construct(alerting=cfg, monitors=[])
    [line] = advice(full)
    assert "slack_configs[0].title" in line and "accepted without effect" in line


def test_a_receiver_with_only_a_name_drops_what_is_routed_to_it(
    api: FakeApis,
    make_config: Callable[..., AlertingConfig],
    make_verdict: Callable[..., Verdict],
    clock: FakeClock,
) -> None:
    cfg = make_config(
        {
            "route": {
                "receiver": "hook",
                "group_wait": "0s",
                "routes": [{"matchers": ['feature="age"'], "receiver": "null"}],
            },
            "receivers": [
                {"name": "null"},
                {"name": "hook", "type": "webhook", "url": api.url + "/hook"},
            ],
        }
    )
    assert cfg.receiver_groups == {"null": []}
    alerting = build_alerting(cfg, CollectorRegistry(), clock)
    alerting.observe(make_verdict(feature="age", window_index=next(WINDOWS)))
    alerting.observe(make_verdict(feature="income", window_index=next(WINDOWS)))
    alerting.tick()
    assert alerting.deliver() == 1
    [request] = api.requests
    assert [a["labels"]["feature"] for a in request.body["alerts"]] == ["income"]
