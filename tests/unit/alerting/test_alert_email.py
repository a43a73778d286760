"""Email receiver: messages delivered to a real SMTP server (aiosmtpd), retries by reply code."""

from __future__ import annotations

import email
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry

from driftd.alerting import build_alerting
from driftd.alerting.config import AlertingConfig
from driftd.alerting.email import EmailNotifier
from driftd.alerting.notification import Notification
from driftd.alerting.receiver_config import EmailReceiver
from driftd.errors import SinkError
from driftd.records import Verdict
from tests.fakes.clock import FakeClock
from tests.kafka.broker import free_port

WINDOWS = itertools.count(1)


class Inbox:
    """An aiosmtpd handler that keeps what it received, or answers with a set reply."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []
        self.reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.reply is not None:
            return self.reply
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _receiver(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "mail",
        "type": "email",
        "to": ["ml-oncall@example.com", "data@example.com"],
        "from": "driftd <driftd@example.com>",
        "smarthost": f"127.0.0.1:{port}",
        "require_tls": False,  # the local test server speaks plain SMTP
        "send_resolved": True,
        **extra,
    }


def test_drift_mailed_then_resolved(
    smtp: tuple[Inbox, int],
    make_config: Callable[..., AlertingConfig],
    make_verdict: Callable[..., Verdict],
    clock: FakeClock,
) -> None:
    inbox, port = smtp
    cfg = make_config(
        {
            "external_url": "https://driftd.example",
            "rules": [{"name": "drift", "for_windows": 1}],
            "route": {"receiver": "mail", "group_wait": "0s", "group_interval": "1m"},
            "receivers": [_receiver(port)],
        }
    )
    alerting = build_alerting(cfg, CollectorRegistry(), clock)
    alerting.observe(make_verdict(window_index=next(WINDOWS)))
    alerting.tick()
    assert alerting.deliver() == 1
    [(rcpts, msg)] = inbox.messages
    assert rcpts == ["ml-oncall@example.com", "data@example.com"]
    assert msg["Subject"] == "[FIRING:1] DataDrift monitor=fraud"
    assert msg["From"] == "driftd <driftd@example.com>"
    body = msg.get_payload(decode=True).decode()
    assert "FIRING: " in body and "feature=age" in body and "https://driftd.example" in body
    clock.advance(60)
    alerting.observe(make_verdict(drift=False, window_index=next(WINDOWS)))
    clock.advance(60)
    alerting.tick()
    assert alerting.deliver() == 1
    assert inbox.messages[1][1]["Subject"] == "[RESOLVED] DataDrift monitor=fraud"


def _note(clock: FakeClock, make_alert: Callable[..., Any]) -> Notification:
    alert = make_alert(monitor="fraud", feature="age")
    return Notification("mail", "root:{}", (("monitor", "fraud"),), (alert,), clock.now)


def test_reply_codes_decide_the_retry(
    smtp: tuple[Inbox, int], clock: FakeClock, make_alert: Callable[..., Any]
) -> None:
    inbox, port = smtp
    notifier = EmailNotifier(EmailReceiver.model_validate(_receiver(port)))
    note = _note(clock, make_alert)
    inbox.reply = "451 4.3.0 try again later"
    with pytest.raises(SinkError, match="451") as err:
        notifier.notify(note)
    assert err.value.retryable
    inbox.reply = "554 5.7.1 rejected"
    with pytest.raises(SinkError, match="554") as err:
        notifier.notify(note)
    assert not err.value.retryable
    inbox.reply = None
    notifier.notify(note)
    notifier.notify(note)  # a resend after a crash: the same Message-ID
    first, second = (m for _, m in inbox.messages)
    assert first["Message-ID"] == second["Message-ID"]


def test_nobody_listening_is_retried(clock: FakeClock, make_alert: Callable[..., Any]) -> None:
    notifier = EmailNotifier(EmailReceiver.model_validate(_receiver(9)))
    with pytest.raises(SinkError) as err:
        notifier.notify(_note(clock, make_alert))
    assert err.value.retryable


def test_config_rules() -> None:
    with pytest.raises(ValueError, match="without TLS"):
        EmailReceiver.model_validate(
            _receiver(25, auth_username="u", auth_password="p", require_tls=False)
        )
    with pytest.raises(ValueError, match="smarthost"):
        EmailReceiver.model_validate(_receiver(25, smarthost="mail.example.com"))
    with pytest.raises(ValueError, match="to"):
        EmailReceiver.model_validate(_receiver(25, to=["not-an-address"]))


def test_alertmanager_email_configs_are_read(make_config: Callable[..., AlertingConfig]) -> None:
    cfg = make_config(
        {
            "route": {"receiver": "team"},
            "receivers": [
                {
                    "name": "team",
                    "email_configs": [
                        {
                            "to": "a@example.com, b@example.com",
                            "from": "am@example.com",
                            "smarthost": "smtp.example.com:587",
                            "auth_username": "am",
                            "auth_password": "s3cret",
                            "html": '{{ template "email.default.html" . }}',
                        }
                    ],
                }
            ],
        }
    )
    [mail] = cfg.receivers
    assert isinstance(mail, EmailReceiver)
    assert mail.to == ["a@example.com", "b@example.com"] and mail.require_tls
    assert cfg.ignored_settings == ["alerting.receivers[0].email_configs[0].html"]
