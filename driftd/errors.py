"""The one exception tree of driftd.

::

    DriftdError
    ├── ConfigError          bad YAML or a value that fails validation (exit code 2)
    ├── ProfileError         a reference profile that is missing, corrupted or of another version
    ├── DecodeError          one Kafka record that cannot become an event (counted, never fatal)
    ├── RegistryUnavailableError  the schema registry cannot answer now: records wait, retried
    ├── SourceError          the event source (Kafka) failed in a way the loop cannot ride out
    ├── StateError           state (a checkpoint, the outbox) could not be written; retried
    └── SinkError            a receiver failed; ``retryable`` and ``retry_after`` say what to do

Only the daemon loop catches these broadly, and its policy is a named callback.
"""

from __future__ import annotations


class DriftdError(Exception):
    """Root of every error driftd raises on purpose."""


class ConfigError(DriftdError):
    """A configuration file that cannot be used; ``problems`` lists each error by key path."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]

    def __str__(self) -> str:
        head = super().__str__()
        if self.problems == [head]:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class ProfileError(DriftdError):
    """A reference profile that cannot be loaded or does not fit the config."""


class DecodeError(DriftdError):
    """A record that cannot be decoded into an event; ``reason`` is a short metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class RegistryUnavailableError(DriftdError):
    """The schema registry did not answer (down, timed out, 5xx, 429): the records that need
    its schemas are held and read again, never dead-lettered for it."""


class SourceError(DriftdError):
    """The event source failed and cannot continue."""


class StateError(DriftdError):
    """State could not be written (full or read-only disk); nothing is committed, retried."""


class SinkError(DriftdError):
    """A receiver could not deliver a notification."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
