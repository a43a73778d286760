"""Config models of the receivers: Slack, PagerDuty, generic webhook, retraining trigger and
Alertmanager push."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from driftd.alerting.config_types import (
    LabelName,
    Model,
    Name,
    PositiveDuration,
    check_matchers,
    load_secrets,
)

PagerDutySeverity = Literal["critical", "error", "warning", "info"]


class _Receiver(Model):
    name: Name
    send_resolved: bool = True
    timeout: PositiveDuration = 10.0


class SlackReceiver(_Receiver):
    """Slack: a bot token posts with ``chat.postMessage`` and updates the message on resolve;
    an incoming-webhook URL (one fixed channel, no updates) is the alternative."""

    type: Literal["slack"]
    channel: str | None = None
    token: SecretStr | None = None
    token_file: Path | None = None
    webhook_url: SecretStr | None = None
    webhook_url_file: Path | None = None
    # The API root that Web API method names are appended to (a local fake, a proxy).
    base_url: str = Field(default="https://slack.com/api/", pattern=r"^https?://")
    max_alerts: int = Field(default=10, ge=1, le=40, description="alerts listed per message")

    @field_validator("base_url")
    @classmethod
    def _root(cls, value: str) -> str:
        # slack-sdk appends the method name as is: ".../api" + "chat.postMessage" would miss.
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> SlackReceiver:
        load_secrets(self, info, "token", "webhook_url")
        if (self.token is None) == (self.webhook_url is None):
            raise ValueError("slack needs a token (chat.postMessage) or a webhook_url, not both")
        if self.token is not None and not self.channel:
            raise ValueError("slack with a token needs a channel")
        return self


class PagerDutyReceiver(_Receiver):
    """PagerDuty Events API v2; the alert's ``severity`` label maps to PagerDuty's severity."""

    type: Literal["pagerduty"]
    routing_key: SecretStr | None = None
    routing_key_file: Path | None = None
    # The API root that /v2/enqueue is appended to (a local fake, a proxy, an EU account).
    base_url: str = Field(default="https://events.pagerduty.com", pattern=r"^https?://")
    source: str = "driftd"
    severity_map: dict[str, PagerDutySeverity] = Field(
        default_factory=lambda: {s: s for s in ("critical", "error", "warning", "info")}
    )
    default_severity: PagerDutySeverity = "error"

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> PagerDutyReceiver:
        load_secrets(self, info, "routing_key")
        if self.routing_key is None:
            raise ValueError("pagerduty needs routing_key or routing_key_file")
        return self


class BasicAuth(Model):
    """HTTP basic authentication for a webhook."""

    username: str
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> BasicAuth:
        load_secrets(self, info, "password")
        if self.password is None:
            raise ValueError("basic_auth needs password or password_file")
        return self


class _HttpReceiver(_Receiver):
    url: SecretStr | None = None
    url_file: Path | None = None
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    basic_auth: BasicAuth | None = None

    @model_validator(mode="after")
    def _check_http(self, info: ValidationInfo) -> _HttpReceiver:
        load_secrets(self, info, "url", "bearer_token")
        if self.url is None:
            raise ValueError(f"{self.name}: needs url or url_file")
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give bearer_token or basic_auth, not both")
        return self


class WebhookReceiver(_HttpReceiver):
    """POST the Alertmanager webhook (version 4) payload to ``url``."""

    type: Literal["webhook"]
    max_alerts: int = Field(default=0, ge=0, description="0 sends every alert")


class TeamsReceiver(_HttpReceiver):
    """Microsoft Teams through an incoming webhook (a Workflows webhook takes an Adaptive Card;
    a legacy Office 365 connector takes ``card: message_card``)."""

    type: Literal["msteams"]
    card: Literal["adaptive", "message_card"] = "adaptive"
    max_alerts: int = Field(default=10, ge=1, le=50, description="alerts listed per message")


class RetrainReceiver(_HttpReceiver):
    """POST once to ``url`` when a matching alert has fired for ``sustained_for`` seconds.

    Not used by routes: its own ``matchers`` pick the alerts, ``group_by`` labels (the monitor by
    default) name what gets retrained, and it fires again only after those alerts resolved.
    """

    type: Literal["retrain"]
    matchers: list[str] = Field(default_factory=list)
    sustained_for: PositiveDuration
    group_by: list[LabelName] = Field(default_factory=lambda: ["monitor"], min_length=1)

    _check_matchers = field_validator("matchers")(check_matchers)


OpsgeniePriority = Literal["P1", "P2", "P3", "P4", "P5"]


class OpsgenieReceiver(_Receiver):
    """Opsgenie Alert API v2: a group creates one alert (alias from the group), its resolve
    closes it; the ``severity`` label maps to a priority."""

    type: Literal["opsgenie"]
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    # The API root that v2/alerts is appended to (https://api.eu.opsgenie.com/ for EU).
    api_url: str = Field(default="https://api.opsgenie.com/", pattern=r"^https?://")
    priority_map: dict[str, OpsgeniePriority] = Field(
        default_factory=lambda: {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
    )
    default_priority: OpsgeniePriority = "P3"
    tags: list[str] = Field(default_factory=list)
    responders: list[dict[str, str]] = Field(default_factory=list)
    source: str = "driftd"

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> OpsgenieReceiver:
        load_secrets(self, info, "api_key")
        if self.api_key is None:
            raise ValueError("opsgenie needs api_key or api_key_file")
        if not self.api_url.endswith("/"):
            object.__setattr__(self, "api_url", self.api_url + "/")
        return self


class EmailReceiver(_Receiver):
    """Email over SMTP (Alertmanager's ``email_configs`` keys): one message per notification,
    the group title as subject, each alert's summary, labels and links in the text."""

    type: Literal["email"]
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    from_: str = Field(alias="from", pattern=r"^.*[^@\s]+@[^@\s]+>?$")
    smarthost: str = Field(pattern=r"^[^\s:]+:\d{1,5}$")
    hello: str = "localhost"
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    auth_password_file: Path | None = None
    # STARTTLS before anything else is sent, as Alertmanager does by default.
    require_tls: bool = True
    ca_file: Path | None = None
    send_resolved: bool = False  # Alertmanager's default for email

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> EmailReceiver:
        load_secrets(self, info, "auth_password")
        if (self.auth_username is None) != (self.auth_password is None):
            raise ValueError("give auth_username and auth_password (or auth_password_file)")
        if self.auth_password is not None and not self.require_tls:
            raise ValueError("auth_password over a connection without TLS: set require_tls")
        return self


class AlertmanagerReceiver(_Receiver):
    """Push alerts to Alertmanager the way Prometheus does (``POST /api/v2/alerts``).

    Not used by routes: Alertmanager does the grouping, routing, silencing and inhibition, so
    every alert its ``matchers`` pick (all by default) is pushed on every change and again every
    ``resend_interval`` while it fires, with ``endsAt`` four resend intervals ahead (Alertmanager
    resolves it by itself if driftd stops); a resolved alert is pushed with its end for
    ``resolved_retention``. Several ``urls`` are an HA pair: each gets every push.
    """

    type: Literal["alertmanager"]
    urls: list[Annotated[str, Field(pattern=r"^https?://[^\s/]+")]] = Field(min_length=1)
    matchers: list[str] = Field(default_factory=list)
    resend_interval: PositiveDuration = 60.0
    resolved_retention: PositiveDuration = 900.0
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    basic_auth: BasicAuth | None = None
    ca_file: Path | None = None

    _check_matchers = field_validator("matchers")(check_matchers)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> AlertmanagerReceiver:
        load_secrets(self, info, "bearer_token")
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give bearer_token or basic_auth, not both")
        if self.ca_file is not None:
            base = (info.context or {}).get("base_dir")
            path = Path(base) / self.ca_file if base else self.ca_file
            if not path.is_file():
                raise ValueError(f"ca_file {path} is not a readable file")
            object.__setattr__(self, "ca_file", path)
        return self


Receiver = Annotated[
    SlackReceiver
    | PagerDutyReceiver
    | WebhookReceiver
    | RetrainReceiver
    | AlertmanagerReceiver
    | EmailReceiver
    | OpsgenieReceiver
    | TeamsReceiver,
    Field(discriminator="type"),
]
