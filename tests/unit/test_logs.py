"""No secret reaches a log line, at any level, whichever library logs it."""

from __future__ import annotations

import io
import logging

import pytest
from slack_sdk.webhook import WebhookClient

from driftd.logs import JsonFormatter, RedactingFilter, redact
from tests.fakes.http_apis import FakeApis


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("url https://hooks.slack.com/services/T0/B0/s3cr3tW3bh00k", "s3cr3tW3bh00k"),
        ("{'Authorization': 'Bearer xoxb-111-222-s3cr3t'}", "s3cr3t"),
        ("routing_key=R0UT1NGKEY00000000000000000000", "R0UT1NGKEY"),
        ("sasl_password: hunter2", "hunter2"),
        ("GET /x?token=abc123def", "abc123def"),
    ],
)
def test_redact(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_slack_sdk_debug_logs_never_show_the_webhook_url(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("slack_sdk")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    url = "https://hooks.slack.com/services/T0/B0/s3cr3t"
    try:
        with FakeApis() as api:
            # slack-sdk logs every request's URL at DEBUG: send to the fake under the real
            # hostname's URL, as a proxy in front of Slack would see it.
            client = WebhookClient(url, timeout=1, retry_handlers=[])
            monkeypatch.setattr(
                client, "url", api.slack_webhook_url, raising=True
            )  # the request goes to the fake; the logged URL is checked below
            logger.debug("Sending a request - url: %s, body: {}", url)
            client.send(text="hi")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    logged = out.getvalue()
    assert "hooks.slack.com/***" in logged and "s3cr3t" not in logged


def test_third_party_lines_are_rate_limited_per_template() -> None:
    from driftd.logs import ThirdPartyRateLimit

    now = [0.0]
    limit = ThirdPartyRateLimit(every_s=60.0, clock=lambda: now[0])

    def rec(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, "f", 1, msg, ("x",), None)

    kept = [limit.filter(rec("kafka.net.manager", "Connection failed: %s")) for _ in range(50)]
    assert kept.count(True) == 1
    assert limit.filter(rec("kafka.net.connection", "Connection lost: %s"))  # another kind
    assert all(limit.filter(rec("driftd.daemon", "x %s")) for _ in range(5))  # driftd's own
    now[0] = 61.0
    again = rec("kafka.net.manager", "Connection failed: %s")
    assert limit.filter(again)
    assert "[49 more like this in the last 60s]" in again.getMessage()
