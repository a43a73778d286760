"""Logging set-up: one JSON object per line for log shippers, or plain text for a terminal."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable

import msgspec


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line with time, level, logger and message."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = record.exc_text or self.formatException(record.exc_info)
        return msgspec.json.encode(doc).decode()


# What must never reach a log line, at any level, from any logger (slack-sdk logs the
# incoming-webhook URL and request headers at DEBUG).
_SECRETS = [
    (re.compile(r"https://hooks\.slack\.com/[A-Za-z0-9/_-]+"), "https://hooks.slack.com/***"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), "xox*-***"),
    (
        re.compile(r"(?i)\b(authorization|bearer|token)(['\"]?\s*[:=]\s*['\"]?|\s+)[^\s'\",}]+"),
        r"\1\2***",
    ),
    (re.compile(r"(?i)(routing_key['\"]?\s*[:=]\s*['\"]?)[A-Za-z0-9]+"), r"\1***"),
    (re.compile(r"(?i)(password['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"), r"\1***"),
]


def redact(text: str) -> str:
    """``text`` with webhook URLs, tokens, auth headers, routing keys and passwords masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record a handler emits, whichever library logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


# The logger librdkafka's own lines go to (driftd.sources.rdkafka).
CLIENT_LOGGER = "driftd.librdkafka"


class ThirdPartyRateLimit(logging.Filter):
    """At most one record per message template every ``every_s`` seconds from ``prefixes``.

    kafka-python logs each failed connection attempt two or three times, several times a
    second while a broker is away (94 lines in 20 s at start-up); driftd says once what is wrong
    and what it does about it. The first of each kind still shows, with a count of what was
    held back since.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = ("kafka", CLIENT_LOGGER),
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._every = every_s
        self._clock = clock
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        # confluent-kafka logs every librdkafka line with one template ("%s [%s] %s"): the
        # kind is its first argument, the facility (FAIL, ERROR, ...).
        kind = record.args[0] if record.name == CLIENT_LOGGER and record.args else ""
        key = (record.name, f"{record.msg}{kind}")
        now = self._clock()
        seen = self._last.get(key)
        if seen is not None and now - seen[0] < self._every:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        if len(self._last) > 1000:  # templates are few; a flood of distinct ones is not kept
            self._last.clear()
        self._last[key] = (now, 0)
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [{seen[1]} more like this in the last {self._every:.0f}s]"
        return True


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger for the daemon; kafka-python is kept at WARNING and every
    record passes through ``RedactingFilter``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ThirdPartyRateLimit())
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger(CLIENT_LOGGER).setLevel(logging.WARNING)
