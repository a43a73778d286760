"""Email over SMTP: one message per notification, with the standard library's smtplib.

The subject is the group's title (``[FIRING:2] DataDrift monitor=fraud``, Alertmanager's
shape); the text lists each alert with its summary, start, labels and links. The Message-ID
derives from the group and the notification's time, so a resend after a crash carries the same
id and mail clients show it once. SMTP 4xx replies and lost connections are retried, 5xx are
not (the server refused the message for good).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from driftd.alerting.config import EmailReceiver
from driftd.alerting.notification import Notification
from driftd.alerting.timefmt import rfc3339
from driftd.errors import SinkError


class EmailNotifier:
    """Sends notifications through ``smarthost``."""

    def __init__(
        self,
        config: EmailReceiver,
        external_url: str | None = None,
        *,
        smtp: Callable[..., Any] = smtplib.SMTP,
    ) -> None:
        self._config = config
        self._external_url = external_url or ""
        self._smtp = smtp
        host, _, port = config.smarthost.rpartition(":")
        self._host, self._port = host, int(port)

    def message(self, group: Notification) -> EmailMessage:
        """The message for one notification."""
        msg = EmailMessage()
        msg["Subject"] = group.title()
        msg["From"] = self._config.from_
        msg["To"] = ", ".join(self._config.to)
        msg["Date"] = formatdate(group.created_at)
        digest = hashlib.sha256(f"{group.key_hash}{group.created_at}".encode()).hexdigest()[:32]
        msg["Message-ID"] = f"<{digest}@driftd>"
        lines = [group.title(), ""]
        for alert in group.alerts:
            notes = alert.annotation_map
            state = "FIRING" if alert.is_firing else "RESOLVED"
            lines.append(f"{state}: {notes.get('summary') or alert.label_map.get('alertname')}")
            lines.append(f"  since {rfc3339(alert.starts_at)}")
            if not alert.is_firing and alert.ends_at is not None:
                lines.append(f"  resolved {rfc3339(alert.ends_at)}")
            labels = ", ".join(f"{k}={v}" for k, v in alert.labels if v)
            lines.append(f"  labels: {labels}")
            for key in ("dashboard_url", "runbook_url"):
                if notes.get(key):
                    lines.append(f"  {key.removesuffix('_url')}: {notes[key]}")
            lines.append("")
        if self._external_url:
            lines.append(f"driftd: {self._external_url}")
        msg.set_content("\n".join(lines))
        return msg

    def notify(self, group: Notification) -> None:
        """Send one message; raise ``SinkError`` (retryable for 4xx and lost connections)."""
        c = self._config
        msg = self.message(group)
        try:
            with self._smtp(self._host, self._port, local_hostname=c.hello, timeout=c.timeout) as s:
                if c.require_tls:
                    context = ssl.create_default_context(
                        cafile=str(c.ca_file) if c.ca_file else None
                    )
                    s.starttls(context=context)
                if c.auth_username is not None and c.auth_password is not None:
                    s.login(c.auth_username, c.auth_password.get_secret_value())
                refused = s.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SinkError(
                f"email {c.name}: every recipient refused: {exc.recipients}",
                # Greylisting and full mailboxes answer 4xx: later may work.
                retryable=bool(codes) and all(400 <= code < 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise SinkError(
                f"email {c.name}: {c.smarthost} answered {exc.smtp_code} {exc.smtp_error!r}",
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Refused, reset, timed out, TLS failures, a server that hung up: try again later.
            raise SinkError(f"email {c.name}: {c.smarthost}: {exc}", retryable=True) from exc
        if refused:
            # Some recipients took it: a resend would mail them twice. Say who did not.
            raise SinkError(f"email {c.name}: refused for {sorted(refused)}", retryable=False)
