"""The config schema: frozen pydantic models, one per YAML section.

Every section rejects unknown keys, every component has a ``name`` and other components refer to
it by that name, and the graph (monitors → streams → fields) is checked as a whole at start-up.
"""

from __future__ import annotations

import difflib
import logging
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from driftd.alerting.config import AlertingConfig
from driftd.concept.config import ConceptConfig
from driftd.errors import ConfigError
from driftd.fieldpaths import check as check_path
from driftd.scalars import Name, PositiveDuration, read_secret_file

NUMERIC_STATISTICS = ("ks", "psi", "js", "wasserstein")
CATEGORICAL_STATISTICS = ("linf", "psi", "js")
MULTIVARIATE_STATISTICS = ("pca", "classifier")
# The feature name verdicts of multivariate statistics carry (all numeric features together).
MULTIVARIATE = "multivariate"


class Section(BaseModel):
    """Base of every config section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None or path.is_absolute():
        return path
    base = (info.context or {}).get("base_dir")
    return (Path(base) / path) if base else path


class KafkaSecurity(Section):
    """How driftd authenticates to the brokers."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> KafkaSecurity:
        if self.sasl_password is not None and self.sasl_password_file is not None:
            raise ValueError("give sasl_password or sasl_password_file, not both")
        if self.protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ValueError(f"protocol {self.protocol} needs sasl_mechanism")
            if self.sasl_username is None:
                raise ValueError(f"protocol {self.protocol} needs sasl_username")
            if self.sasl_password is None and self.sasl_password_file is None:
                raise ValueError(
                    f"protocol {self.protocol} needs sasl_password or sasl_password_file"
                )
        if self.sasl_password_file is not None:
            path = _resolve(self.sasl_password_file, info)
            assert path is not None
            object.__setattr__(self, "sasl_password", read_secret_file(path, "sasl_password_file"))
        return self


class SchemaRegistryConfig(Section):
    """A Confluent-compatible schema registry (Confluent, Apicurio's ``/apis/ccompat/v7``,
    Redpanda, Karapace) for streams of ``format: avro | protobuf | json_schema`` on the
    Confluent wire format (a 0 byte, a 4-byte schema id, the payload)."""

    url: str = Field(pattern=r"^https?://")
    basic_auth_user: str | None = None
    basic_auth_password: SecretStr | None = None
    basic_auth_password_file: Path | None = None
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Each request's deadline; an unreachable registry holds the records (never dead-letters
    # them), retried with backoff doubling up to retry_backoff_max.
    timeout: PositiveDuration = 10.0
    retry_backoff_max: PositiveDuration = 30.0
    bearer_token: SecretStr | None = Field(default=None, exclude=True)

    @field_validator("ca_file", "cert_file", "key_file", "bearer_token_file")
    @classmethod
    def _files(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _secrets(self, info: ValidationInfo) -> SchemaRegistryConfig:
        if self.basic_auth_password is not None and self.basic_auth_password_file is not None:
            raise ValueError("give basic_auth_password or basic_auth_password_file, not both")
        if self.basic_auth_password_file is not None:
            path = _resolve(self.basic_auth_password_file, info)
            assert path is not None
            secret = read_secret_file(path, "basic_auth_password_file")
            object.__setattr__(self, "basic_auth_password", secret)
        if (self.basic_auth_user is None) != (self.basic_auth_password is None):
            raise ValueError("basic auth needs both basic_auth_user and a password")
        if self.bearer_token_file is not None:
            if self.basic_auth_user is not None:
                raise ValueError("give basic auth or bearer_token_file, not both")
            token = read_secret_file(self.bearer_token_file, "bearer_token_file")
            if not token.get_secret_value():
                raise ValueError(f"bearer_token_file {str(self.bearer_token_file)!r} is empty")
            object.__setattr__(self, "bearer_token", token)
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        return self


class KafkaConfig(Section):
    """The consumer: brokers, group, polling and error handling."""

    bootstrap_servers: list[Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$")]] = Field(
        min_length=1
    )
    group_id: str = Field(default="driftd", min_length=1)
    client_id: str = Field(default="driftd", min_length=1)
    # The Kafka client library: librdkafka (confluent-kafka's, in C; the default: 1.6x the
    # events/s of kafka-python in bench/pipeline.py at 38 % less CPU) or kafka-python.
    client: Literal["kafka-python", "librdkafka"] = "librdkafka"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    poll_timeout: PositiveDuration = 0.5
    max_poll_records: int = Field(default=20_000, ge=1, le=1_000_000)
    session_timeout: PositiveDuration = 10.0
    heartbeat_interval: PositiveDuration = 3.0
    max_poll_interval: PositiveDuration = 300.0
    # How far ahead in record timestamps one partition may be read of the slowest one that
    # still has records (null: no alignment). A backlog is then read in the order live traffic
    # had, so labels do not overtake their predictions (driftd/sources/alignment.py).
    max_read_skew: PositiveDuration | None = 10.0
    # A partition that has not moved for this long no longer holds the others back.
    max_read_stall: PositiveDuration = 30.0
    # How long the loop waits for the broker to acknowledge what it produced (dead letters,
    # drift events, handovers) before a commit; on a miss the commit waits for the next try.
    produce_timeout: PositiveDuration = 10.0
    # Dead-letter copies larger than this are truncated (with a digest of the original):
    # below the broker's default message.max.bytes (1 MiB) with room for the headers.
    dead_letter_max_bytes: int = Field(default=900_000, ge=1024)
    # What a record does whose processing raised: dead_letter (default: the record goes to the
    # dead-letter topic, or is skipped without one; counted either way) or stop (exit 1).
    on_processing_error: Literal["dead_letter", "stop"] = "dead_letter"
    dead_letter_topic: str | None = None
    security: KafkaSecurity = KafkaSecurity()

    @model_validator(mode="after")
    def _check(self) -> KafkaConfig:
        if self.heartbeat_interval >= self.session_timeout:
            raise ValueError("heartbeat_interval must be shorter than session_timeout")
        return self


class FieldMapping(Section):
    """Dotted paths from a JSON event to the fields driftd uses."""

    id: str | None = None
    timestamp: str | None = None
    model: str | None = None
    model_version: str | None = None
    features: dict[Name, str] | list[str] = Field(default_factory=dict)
    prediction: str | None = None
    label: str | None = None
    segments: dict[Name, str] = Field(default_factory=dict)

    def feature_paths(self) -> dict[str, str]:
        """Feature name → dotted path; a list entry is named by its last path element."""
        if isinstance(self.features, dict):
            return dict(self.features)
        return {path.rsplit(".", 1)[-1]: path for path in self.features}

    @field_validator("features")
    @classmethod
    def _unique_names(cls, value: dict[str, str] | list[str]) -> dict[str, str] | list[str]:
        if isinstance(value, list):
            names = [p.rsplit(".", 1)[-1] for p in value]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(
                    f"features {duplicates} appear twice by name; use a mapping name: path"
                )
        return value


def uses_registry(stream: StreamConfig) -> bool:
    """Whether the stream's records are on the Confluent wire format (schemas by id)."""
    return stream.format in {"protobuf", "json_schema"} or (
        stream.format == "avro" and stream.schema_file is None
    )


class StreamConfig(Section):
    """A Kafka topic plus a decoder and a field mapping."""

    name: Name
    topic: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")
    # json: a JSON document per record. avro with schema_file: one Avro datum of that schema
    # per record. avro without schema_file, protobuf, json_schema: the Confluent wire format,
    # schemas fetched by id from schema_registry (the top-level section).
    format: Literal["json", "avro", "protobuf", "json_schema"] = "json"
    schema_file: Path | None = None
    # An inference protocol whose records hold batches of rows (see driftd.protocols); the
    # field paths then address each row's document.
    protocol: Literal[
        "none",
        "kserve_v1",
        "open_inference_v2",
        "cloudevents",
        "seldon_v2",
        "seldon_v2_response",
    ] = "none"
    timestamp_unit: Literal["s", "ms", "us", "iso8601"] = "ms"
    # Event times outside [2000-01-01, now + timestamp_max_future] are refused (dead-lettered
    # with reason timestamp_out_of_range): one far-future time would close every tumbling
    # window for good and make every later event "late".
    timestamp_max_future: PositiveDuration = 86_400.0
    fields: FieldMapping

    @field_validator("schema_file")
    @classmethod
    def _schema_path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _paths(self) -> StreamConfig:
        if self.format != "json" and self.protocol != "none":
            raise ValueError(f"format {self.format} reads one event per record: set protocol none")
        if self.format != "avro" and self.schema_file is not None:
            raise ValueError("schema_file is for format avro (plain Avro, no registry)")
        if self.schema_file is not None:
            from driftd.avro import load_schema

            try:
                load_schema(self.schema_file)  # a bad schema fails check-config, not the run
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        f = self.fields
        paths = [
            getattr(f, role)
            for role in ("id", "timestamp", "model", "model_version", "prediction", "label")
        ]
        paths += list(f.feature_paths().values()) + list(f.segments.values())
        used = [p for p in paths if p is not None]
        for path in used:
            problem = check_path(path)
            if problem is not None:
                raise ValueError(f"fields: {problem}")
        for a in used:
            for b in used:
                if b.startswith(a + "."):
                    raise ValueError(f"fields: {a!r} and {b!r} overlap; map leaf values only")
        return self


class InferenceJoinConfig(Section):
    """Request and response records of one inference merged into one event by id
    (driftd.monitoring.joining); monitors list the join's name as a stream."""

    name: Name
    # The streams holding the halves: one when requests and responses share a topic.
    streams: list[Name] = Field(min_length=1, max_length=2)
    # How long a half waits for the other (arrival time), and how many wait at once.
    ttl: PositiveDuration = 300.0
    max_pending: int = Field(default=100_000, ge=1, le=10_000_000)


def joined_stream(join: InferenceJoinConfig, sides: list[StreamConfig]) -> StreamConfig:
    """The stream a join makes: every field some side maps (the first side's path where
    several do; the paths only name where values came from)."""

    def first(role: str) -> str | None:
        return next((getattr(s.fields, role) for s in sides if getattr(s.fields, role)), None)

    features: dict[str, str] = {}
    segments: dict[str, str] = {}
    for side in sides:
        for name, path in side.fields.feature_paths().items():
            features.setdefault(name, path)
        for name, path in side.fields.segments.items():
            segments.setdefault(name, path)
    fields = FieldMapping.model_construct(
        id=first("id"),
        timestamp=first("timestamp"),
        model=first("model"),
        model_version=first("model_version"),
        features=features,
        prediction=first("prediction"),
        label=first("label"),
        segments=segments,
    )
    return StreamConfig.model_construct(
        name=join.name,
        topic=sides[0].topic,
        format=sides[0].format,
        schema_file=None,
        protocol=sides[0].protocol,
        timestamp_unit=sides[0].timestamp_unit,
        timestamp_max_future=sides[0].timestamp_max_future,
        fields=fields,
    )


class ComparisonSide(Section):
    """One side of a comparison: a stream, optionally only one model or model version."""

    stream: Name
    model: str | None = None
    model_version: str | None = None


class ComparisonConfig(Section):
    """A candidate model version judged against the baseline (driftd.monitoring.comparison)."""

    name: Name
    baseline: ComparisonSide
    candidate: ComparisonSide
    # shadow: both score the same requests (joined by id); canary: they serve different traffic.
    mode: Literal["shadow", "canary"] = "shadow"
    window: int = Field(default=1000, ge=10, le=10_000_000)  # pairs (shadow) or candidate events
    alpha: float = Field(default=1e-3, gt=0.0, lt=0.5)  # false alarms per window, two-window test
    max_disagreement: float = Field(default=0.05, ge=0.0, le=1.0)  # shadow: share of decisions
    max_score_difference: float | None = Field(default=None, gt=0.0)  # shadow: mean |difference|
    decision_threshold: float | None = 0.5  # score -> decision; null: compare values as they are
    ttl: PositiveDuration = 300.0  # shadow: a prediction waits this long for its pair
    max_pending: int = Field(default=100_000, ge=1, le=10_000_000)


class CountWindow(Section):
    """Close a window every ``size`` events."""

    type: Literal["count"]
    size: int = Field(ge=2, le=10_000_000)
    min_samples: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> CountWindow:
        if self.min_samples is not None and self.min_samples > self.size:
            raise ValueError("min_samples cannot exceed size")
        return self


class TumblingWindow(Section):
    """Close a window every ``every`` seconds of event time."""

    type: Literal["tumbling"]
    every: PositiveDuration
    min_samples: int = Field(default=100, ge=1)
    max_events: int = Field(default=1_000_000, ge=2)


Window = Annotated[CountWindow | TumblingWindow, Field(discriminator="type")]


class StaticThreshold(Section):
    """A fixed limit on the statistic."""

    type: Literal["static"]
    value: float
    min_effect: float | None = Field(default=None, ge=0)


class CalibratedThreshold(Section):
    """A limit from the statistic's null distribution, simulated from the reference."""

    type: Literal["calibrated"]
    windows_between_false_alarms: float = Field(default=1000.0, ge=1)
    family_correction: Literal["sidak", "bonferroni", "none"] = "sidak"
    # Accepted for configs written before Wasserstein was simulated like the histogram
    # statistics; it has no effect (a warning says so).
    bootstrap_samples: int | None = Field(default=None, ge=50, le=100_000)
    # Simulated draws per window size, at most (Wasserstein: at most 50,000).
    max_draws: int = Field(default=500_000, ge=20_000, le=50_000_000)
    seed: int = 0
    min_effect: float | None = Field(default=None, ge=0)

    @field_validator("bootstrap_samples")
    @classmethod
    def _no_longer_used(cls, value: int | None) -> int | None:
        if value is not None:
            logging.getLogger(__name__).warning(
                "thresholds: bootstrap_samples no longer has an effect (Wasserstein's null is "
                "simulated like the histogram statistics', up to max_draws); remove it"
            )
        return value


class AdaptiveThreshold(Section):
    """The base limit scaled by the statistic's excess variability on recent no-drift windows
    (same tail probability as the base; at least the base, at most ``max_inflation`` times it)."""

    type: Literal["adaptive"]
    base: Annotated[StaticThreshold | CalibratedThreshold, Field(discriminator="type")]
    history: int = Field(default=200, ge=10)
    warmup_windows: int = Field(default=20, ge=2)
    max_inflation: float = Field(default=2.0, gt=1, description="creep guard: limit / base")
    max_limit: float | None = Field(default=None, gt=0)
    floor: bool = Field(default=True, description="never below the base limit")
    max_change: float = Field(default=0.5, gt=0, description="largest relative step per window")
    # The tail a static base's adaptive limit targets (a calibrated base brings its own).
    windows_between_false_alarms: float = Field(default=1000.0, ge=1)
    min_effect: float | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        removed = {"method", "alpha", "k", "quantile"} & set(data) if isinstance(data, dict) else ()
        if removed:
            raise ValueError(
                f"{', '.join(sorted(removed))}: removed (mean + k*sigma and "
                "rolling quantiles ignored the false-alarm target); adaptive limits now scale "
                "the base limit by the learned excess variability: delete these keys, and "
                "see max_inflation / floor"
            )
        return data


Threshold = Annotated[
    StaticThreshold | CalibratedThreshold | AdaptiveThreshold, Field(discriminator="type")
]


class Statistics(Section):
    """Which statistics run per feature type."""

    numeric: list[Literal["ks", "psi", "js", "wasserstein"]] = Field(
        default_factory=lambda: ["ks", "psi"], min_length=1
    )
    categorical: list[Literal["linf", "psi", "js"]] = Field(
        default_factory=lambda: ["linf", "psi"], min_length=1
    )
    # Over all numeric features together (the profile's joint sample): PCA reconstruction
    # error and the classifier two-sample test. Off unless asked for.
    multivariate: list[Literal["pca", "classifier"]] = Field(default_factory=list)
    # Per vector feature (an embedding: a list of floats), over its dimensions together.
    vector: list[Literal["pca", "classifier"]] = Field(
        default_factory=lambda: ["pca", "classifier"], min_length=1
    )


class Thresholds(Section):
    """The default threshold, overridden per statistic and per feature and statistic."""

    default: Threshold = CalibratedThreshold(type="calibrated")
    statistics: dict[str, Threshold] = Field(default_factory=dict)
    features: dict[str, dict[str, Threshold]] = Field(default_factory=dict)

    @field_validator("statistics")
    @classmethod
    def _known(cls, value: dict[str, Threshold]) -> dict[str, Threshold]:
        _check_statistics(value, "statistics")
        return value

    @field_validator("features")
    @classmethod
    def _known_per_feature(
        cls, value: dict[str, dict[str, Threshold]]
    ) -> dict[str, dict[str, Threshold]]:
        # Feature names are checked against the profile when the monitor is built.
        for feature, by_statistic in value.items():
            _check_statistics(by_statistic, f"features.{feature}")
        return value


def _check_statistics(value: dict[str, Threshold], where: str) -> None:
    known = (
        set(NUMERIC_STATISTICS)
        | set(CATEGORICAL_STATISTICS)
        | set(MULTIVARIATE_STATISTICS)
        | {"schema"}
    )
    for name, threshold in value.items():
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{where}.{name}: unknown statistic{hint}; known: {', '.join(sorted(known))}"
            )
        base = threshold.base if isinstance(threshold, AdaptiveThreshold) else threshold
        if name == "schema" and isinstance(base, CalibratedThreshold):
            raise ValueError(
                f"{where}.schema: schema rates have no null model to calibrate against; "
                "use type: static (a rate, e.g. 0.05) or adaptive over static"
            )


class MonitorConfig(Section):
    """One model (optionally per segment) watched against one reference profile."""

    name: Name
    streams: list[Name] = Field(min_length=1)
    model: str | None = Field(default=None, description="only events whose model field equals")
    reference: Path
    features: list[str] | Literal["all"] = "all"
    segment_by: list[Name] = Field(default_factory=list)
    max_segments: int = Field(default=50, ge=1, le=10_000)
    window: Window = CountWindow(type="count", size=5000)
    statistics: Statistics = Statistics()
    thresholds: Thresholds = Thresholds()
    prediction_drift: bool = True
    schema_checks: bool = True
    concept: ConceptConfig | None = None

    @field_validator("reference")
    @classmethod
    def _reference_path(cls, value: Path, info: ValidationInfo) -> Path:
        resolved = _resolve(value, info)
        assert resolved is not None
        return resolved


class HttpTls(Section):
    """TLS for the HTTP endpoint, as in Prometheus's web config ``tls_server_config``; the
    files are re-read when they change (certificate rotation needs no restart)."""

    cert_file: Path
    key_file: Path
    # With a client CA, clients present a certificate it signed; a verified client certificate
    # authenticates its holder for the write endpoints.
    client_ca_file: Path | None = None
    client_auth_type: Literal["RequireAndVerifyClientCert", "VerifyClientCertIfGiven"] = (
        "RequireAndVerifyClientCert"
    )
    min_version: Literal["TLS12", "TLS13"] = "TLS12"

    @field_validator("cert_file", "key_file", "client_ca_file")
    @classmethod
    def _paths(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)


class HttpAuth(Section):
    """Who may call the write endpoints (and, with ``protect_reads``, every endpoint but the
    health probes): basic auth against bcrypt hashes (``htpasswd -nbBC 10 user pass``, as in
    Prometheus's ``basic_auth_users``), or bearer tokens read from files (re-read on change)."""

    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    bearer_token_files: list[Path] = Field(default_factory=list)
    protect_reads: bool = False

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt(cls, value: dict[str, str]) -> dict[str, str]:
        for user, hashed in value.items():
            if ":" in user or not user:
                raise ValueError(f"user {user!r}: a name must be non-empty and have no ':'")
            if not re.fullmatch(r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}", hashed):
                raise ValueError(
                    f"user {user!r}: give a bcrypt hash, not a password (e.g. from "
                    "`htpasswd -nbBC 10 USER PASSWORD`, the part after the ':')"
                )
        return value

    @field_validator("bearer_token_files")
    @classmethod
    def _token_paths(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        resolved = [_resolve(p, info) for p in value]
        for path in resolved:
            assert path is not None
            text = read_secret_file(path, "bearer_token_files").get_secret_value()
            if len(text) < 16:
                raise ValueError(f"{str(path)!r}: a token needs at least 16 characters")
        return [p for p in resolved if p is not None]

    @model_validator(mode="after")
    def _something(self) -> HttpAuth:
        if not self.basic_auth_users and not self.bearer_token_files:
            raise ValueError("give basic_auth_users or bearer_token_files (or drop http.auth)")
        return self


class HttpConfig(Section):
    """The HTTP endpoint for /metrics, /healthz, /readyz, /status and the silences API."""

    # Every interface by default: Prometheus and the kubelet reach the endpoint from outside
    # the pod or host. That exposes reads only; writes need http.auth or the opt-in below.
    host: str = "0.0.0.0"
    port: int = Field(default=9108, ge=0, le=65535)
    tls: HttpTls | None = None
    auth: HttpAuth | None = None
    # Without http.auth, POST/DELETE /api/silences answer 403 unless this is set: anyone who
    # can reach the port could otherwise silence every page.
    allow_unauthenticated_writes: bool = False
    max_body_bytes: int = Field(default=65536, ge=1024, le=64 * 1024 * 1024)
    max_connections: int = Field(default=256, ge=4, le=100_000)
    workers: int = Field(default=4, ge=1, le=64)
    read_timeout: PositiveDuration = 10.0
    idle_timeout: PositiveDuration = 60.0
    write_timeout: PositiveDuration = 10.0

    @model_validator(mode="after")
    def _writes(self) -> HttpConfig:
        if self.allow_unauthenticated_writes and self.auth is not None:
            raise ValueError("allow_unauthenticated_writes has no effect with http.auth; drop it")
        return self


class StateConfig(Section):
    """Where checkpoints are kept; without a directory, offsets are committed per batch and
    open windows and the label join start empty after a restart."""

    dir: Path | None = None
    checkpoint_interval: PositiveDuration = 5.0
    # A checkpoint write that takes longer (a hung disk or network mount) counts as failed:
    # nothing is committed, /readyz says 503, and the loop waits for the write before reading on.
    write_timeout: PositiveDuration = 30.0
    handover_topic: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+$")

    @model_validator(mode="after")
    def _handover_needs_checkpoints(self) -> StateConfig:
        if self.handover_topic is not None and self.dir is None:
            raise ValueError("handover_topic needs dir: state is handed over at checkpoints")
        return self

    @field_validator("dir")
    @classmethod
    def _dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)


class LoggingConfig(Section):
    """Log level and format (JSON lines for log shippers, or text for a terminal)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "text"


class EventsConfig(Section):
    """Publishing verdicts to a Kafka topic for downstream pipelines."""

    topic: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+$")
    only_drift: bool = False


class DriftdConfig(Section):
    """The whole config file."""

    version: Literal[1] = 1
    kafka: KafkaConfig
    http: HttpConfig = HttpConfig()
    state: StateConfig = StateConfig()
    logging: LoggingConfig = LoggingConfig()
    events: EventsConfig = EventsConfig()
    alerting: AlertingConfig | None = None
    schema_registry: SchemaRegistryConfig | None = None
    streams: list[StreamConfig] = Field(min_length=1)
    joins: list[InferenceJoinConfig] = Field(default_factory=list)
    monitors: list[MonitorConfig] = Field(default_factory=list)
    comparisons: list[ComparisonConfig] = Field(default_factory=list)

    def all_streams(self) -> dict[str, StreamConfig]:
        """Every stream by name: the configured ones and those the joins make."""
        streams = {s.name: s for s in self.streams}
        for join in self.joins:
            sides = [streams[n] for n in join.streams if n in streams]
            if sides:
                streams[join.name] = joined_stream(join, sides)
        return streams

    @model_validator(mode="after")
    def _graph(self) -> DriftdConfig:
        problems: list[str] = []
        for i, stream in enumerate(self.streams):
            if uses_registry(stream) and self.schema_registry is None:
                problems.append(
                    f"streams[{i}]: format {stream.format} without schema_file reads the "
                    "Confluent wire format and needs the schema_registry section (its url)"
                )
        _unique([s.name for s in self.streams], "streams", problems)
        _unique([s.name for s in self.streams] + [j.name for j in self.joins], "joins", problems)
        _unique([m.name for m in self.monitors], "monitors", problems)
        configured = {s.name: s for s in self.streams}
        for i, join in enumerate(self.joins):
            _unique(list(join.streams), f"joins[{i}].streams", problems)
            unknown = [n for n in join.streams if n not in configured]
            if unknown:
                problems.append(
                    f"joins[{i}].streams: no stream named {unknown} (streams: {sorted(configured)})"
                )
                continue
            sides = [configured[n] for n in join.streams]
            if not all(s.fields.id for s in sides):
                problems.append(
                    f"joins[{i}]: every stream of a join needs fields.id (the join key)"
                )
            if not any(s.fields.prediction for s in sides):
                problems.append(f"joins[{i}]: no stream of the join maps fields.prediction")
            if not any(s.fields.feature_paths() for s in sides):
                problems.append(f"joins[{i}]: no stream of the join maps fields.features")
        streams = self.all_streams()
        _unique(
            [m.name for m in self.monitors] + [c.name for c in self.comparisons],
            "comparisons",
            problems,
        )
        for i, comparison in enumerate(self.comparisons):
            sides = (("baseline", comparison.baseline), ("candidate", comparison.candidate))
            if comparison.baseline == comparison.candidate:
                problems.append(
                    f"comparisons[{i}]: baseline and candidate are the same predictions; "
                    "tell them apart by stream, model or model_version"
                )
            for role, side in sides:
                where = f"comparisons[{i}].{role}"
                stream = streams.get(side.stream)
                if stream is None:
                    problems.append(
                        f"{where}.stream: no stream named {side.stream!r} "
                        f"(streams: {sorted(streams)})"
                    )
                    continue
                if not stream.fields.prediction:
                    problems.append(f"{where}: stream {side.stream!r} maps no fields.prediction")
                if comparison.mode == "shadow" and not stream.fields.id:
                    problems.append(
                        f"{where}: shadow mode pairs predictions by id; stream "
                        f"{side.stream!r} maps no fields.id"
                    )
                if side.model is not None and not stream.fields.model:
                    problems.append(f"{where}.model: stream {side.stream!r} maps no fields.model")
                if side.model_version is not None and not stream.fields.model_version:
                    problems.append(
                        f"{where}.model_version: stream {side.stream!r} maps no "
                        "fields.model_version"
                    )
        for i, monitor in enumerate(self.monitors):
            for name in monitor.streams:
                if name not in streams:
                    problems.append(
                        f"monitors[{i}].streams: no stream named {name!r} "
                        f"(streams: {sorted(streams)})"
                    )
            fed = [streams[n] for n in monitor.streams if n in streams]
            for seg in monitor.segment_by:
                if not any(seg in s.fields.segments for s in fed):
                    problems.append(
                        f"monitors[{i}].segment_by: {seg!r} is not a segment field of "
                        f"its streams {monitor.streams}"
                    )
            if monitor.concept is not None and fed:
                if not all(s.fields.id for s in fed):
                    problems.append(
                        f"monitors[{i}].concept: joining labels needs fields.id "
                        "on every stream of the monitor"
                    )
                if not any(s.fields.prediction for s in fed):
                    problems.append(f"monitors[{i}].concept: no stream maps fields.prediction")
                if not any(s.fields.label for s in fed):
                    problems.append(f"monitors[{i}].concept: no stream maps fields.label")
            with_features = [s for s in fed if s.fields.feature_paths()]
            if monitor.model is not None and not all(s.fields.model for s in with_features):
                problems.append(
                    f"monitors[{i}].model: filtering on model needs fields.model on every stream"
                )
            if isinstance(monitor.features, list) and fed:
                mapped = set().union(*(s.fields.feature_paths() for s in fed))
                missing = sorted(set(monitor.features) - mapped)
                if missing:
                    problems.append(
                        f"monitors[{i}].features: {missing} are not mapped in fields.features "
                        "of its streams"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _unique(names: list[str], section: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"{section}: the name {name!r} is used twice")
        seen.add(name)


@cache
def all_keys() -> list[str]:
    """Every key of every section, for "did you mean" hints."""
    keys: set[str] = set()
    pending: list[type[BaseModel]] = [Section, *_foreign_models()]
    while pending:
        model = pending.pop()
        # The names users write: a field's alias (``continue``), not its Python name.
        keys.update(f.alias or name for name, f in model.model_fields.items())
        pending.extend(model.__subclasses__())
    return sorted(keys)


def _foreign_models() -> list[type[BaseModel]]:
    from driftd.alerting import config as alerting_config
    from driftd.concept import config as concept_config

    return [
        m
        for module in (alerting_config, concept_config)
        for m in vars(module).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m is not BaseModel
    ]
