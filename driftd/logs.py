"""Logging set-up: one JSON object per line for log shippers, or plain text for a terminal."""

from __future__ import annotations

import logging
import re
import sys
import time

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


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Configure the root logger for the daemon; kafka-python is kept at WARNING and every
    record passes through ``RedactingFilter``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kafka").setLevel(logging.WARNING)
