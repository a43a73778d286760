"""Records on the Confluent wire format: a 0 byte, a 4-byte big-endian schema id, the payload.

``format: avro`` (without ``schema_file``), ``protobuf`` or ``json_schema`` on a stream reads
its records this way, with the writer's schema fetched by id from the ``schema_registry``
section's registry through confluent-kafka's ``SchemaRegistryClient`` (basic or bearer auth,
TLS, its own cache). Each record is read with the schema it was written with, so a new schema
id mid-stream (schema evolution) just works: field paths address the record by field names,
and a field a schema does not have reads as missing.

- Avro: the registry's schema parsed by fastavro (with the schemas it references), each value
  read as one datum of it with nothing left over.
- Protobuf: the schema as a serialized ``FileDescriptorProto`` (``format=serialized``, which the
  client asks for); the message indexes after the id pick the message type, and the message
  becomes a document with every field present (proto3 defaults included, so a 0.0 is a value,
  not a missing feature; unset optional fields and messages are missing); enums by name, 64-bit
  integers as numbers. confluent-kafka's deserializer needs the generated message class, which
  driftd does not have, so the descriptor pool is built here from the registry's schema.
- JSON Schema: the payload is a JSON document; the schema id is resolved (an unknown id is a
  bad record) but documents are not validated against it: driftd's schema checks count what
  matters per feature.

Failure policy. Before a batch is decoded, ``Registry.prepare`` resolves every schema id in it.
An id the registry does not know (404) makes those records dead letters with reason
``unknown_schema_id`` (asked again after ``UNKNOWN_TTL``); a registry that does not answer
(connection refused, timeout, 5xx, 429) raises ``RegistryUnavailableError``: the daemon holds the
batch, seeks back, reports ``/readyz`` not ready (``schema_registry``) and retries with
backoff, so no record is dead-lettered because the registry was down. Records that are not on
the wire format get reason ``not_wire_format``; payloads that do not read with their schema,
``invalid_avro`` / ``invalid_protobuf`` / ``invalid_json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from driftd.config.models import SchemaRegistryConfig
from driftd.errors import DecodeError, RegistryUnavailableError

log = logging.getLogger(__name__)

UNKNOWN_TTL = 60.0  # seconds before an id the registry did not know is asked for again
MAX_SCHEMAS = 10_000
Reader = Callable[[bytes], Any]


def client_conf(cfg: SchemaRegistryConfig) -> dict[str, Any]:
    """The ``SchemaRegistryClient`` configuration for ``cfg``."""
    conf: dict[str, Any] = {
        "url": cfg.url,
        "timeout": cfg.timeout,
        # driftd retries itself, with backoff and the batch held; the client's own retries
        # would only lengthen each blocked call.
        "max.retries": 0,
        "cache.capacity": MAX_SCHEMAS,
    }
    if cfg.basic_auth_user is not None and cfg.basic_auth_password is not None:
        secret = cfg.basic_auth_password.get_secret_value()
        conf["basic.auth.user.info"] = f"{cfg.basic_auth_user}:{secret}"
    if cfg.bearer_token_file is not None:
        path = cfg.bearer_token_file
        # Read on every request: a rotated token file (a Kubernetes secret) needs no restart.
        conf["bearer.auth.credentials.source"] = "CUSTOM"
        conf["bearer.auth.custom.provider.function"] = _bearer_fields
        conf["bearer.auth.custom.provider.config"] = {"path": str(path)}
    if cfg.ca_file is not None:
        conf["ssl.ca.location"] = str(cfg.ca_file)
    if cfg.cert_file is not None and cfg.key_file is not None:
        conf["ssl.certificate.location"] = str(cfg.cert_file)
        conf["ssl.key.location"] = str(cfg.key_file)
    return conf


def _bearer_fields(config: dict[str, str]) -> dict[str, str]:
    from pathlib import Path

    token = Path(config["path"]).read_text(encoding="utf-8").strip()
    return {"bearer.auth.token": token, "bearer.auth.logical.cluster": ""}


def schema_id(value: bytes | None) -> int | None:
    """The schema id of a wire-format value, or None when it is not on the wire format."""
    if value is None or len(value) < 5 or value[0] != 0:
        return None
    return int.from_bytes(value[1:5], "big")


class Registry:
    """Readers of schema ids, resolved through the registry client before a batch is read."""

    def __init__(
        self,
        cfg: SchemaRegistryConfig,
        client: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is None:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            client = SchemaRegistryClient(client_conf(cfg))
        self.cfg = cfg
        self._client = client
        self._clock = clock
        self._readers: dict[tuple[str, int], Reader] = {}
        # Parsed Avro writer schemas (and the named types they reference) by id, for the
        # columnar reader (driftd.avrocolumns).
        self._avro_schemas: dict[int, tuple[Any, dict[str, Any]]] = {}
        # Ids the registry answered for without a usable schema: when, the reason, the detail.
        self._unknown: dict[int, tuple[float, str, str]] = {}
        self.up = True
        self.last_error = ""

    def prepare(self, fmt: str, values: Sequence[bytes | None]) -> None:
        """Resolve every schema id of ``values``; raises RegistryUnavailableError when the
        registry does not answer (nothing is resolved half: ids already resolved stay)."""
        ids = {i for v in values if (i := schema_id(v)) is not None}
        now = self._clock()
        for sid in ids:
            if (fmt, sid) in self._readers:
                continue
            seen = self._unknown.get(sid)
            if seen is not None and now - seen[0] < UNKNOWN_TTL:
                continue
            self._resolve(fmt, sid)

    def _resolve(self, fmt: str, sid: int) -> None:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        from driftd.protobuf import UnusableSchemaError

        try:
            reader = self._reader(fmt, sid)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                log.warning("schema registry: no schema with id %d (%s)", sid, exc.error_message)
                detail = f"the registry has no schema with id {sid}"
                self._unknown[sid] = (self._clock(), "unknown_schema_id", detail)
                self.up = True
                return
            self._down(f"HTTP {exc.http_status_code}: {exc.error_message}")
        except UnusableSchemaError as exc:
            log.warning("schema registry: schema id %d cannot be used: %s", sid, exc)
            self._unknown[sid] = (self._clock(), "unusable_schema", f"schema {sid}: {exc}")
            return
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # Schemas that do not parse were turned into UnusableSchemaError above; what is
            # left is the transport (OSError) or an answer that is not the registry's (a
            # proxy's HTML page: ValueError/KeyError from the client): not an answer yet.
            self._down(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # httpx.TransportError and kin do not derive from OSError
            if type(exc).__module__.startswith(("httpx", "httpcore", "ssl")):
                self._down(f"{type(exc).__name__}: {exc}")
            raise
        else:
            if len(self._readers) >= MAX_SCHEMAS:
                self._readers.clear()
                self._avro_schemas.clear()
            self._readers[(fmt, sid)] = reader
            self._unknown.pop(sid, None)
            self.up = True

    def _down(self, why: str) -> None:
        self.up = False
        self.last_error = why
        raise RegistryUnavailableError(f"schema registry {self.cfg.url} did not answer: {why}")

    def _reader(self, fmt: str, sid: int) -> Reader:
        if fmt == "avro":
            return self._avro(sid)
        if fmt == "protobuf":
            return self._protobuf(sid)
        self._client.get_schema(sid)  # resolves the id (404 when unknown)
        return _json_reader()

    def _avro(self, sid: int) -> Reader:
        import json

        import fastavro

        # fastavro straight from the registry's schema: confluent-kafka's AvroDeserializer
        # does the same plus per-call subject and rule handling driftd has no use for, at
        # about twice the cost per record (bench/decoding.py: 52k against 94k records/s).
        from driftd.protobuf import UnusableSchemaError

        # The network first (its errors mean "not now"), then parsing (its errors mean "never").
        schema = self._client.get_schema(sid)
        texts = [
            self._client.get_version(ref.subject, ref.version).schema.schema_str
            for ref in schema.references or []
        ]
        named: dict[str, Any] = {}
        try:
            for text in texts:
                fastavro.parse_schema(json.loads(text), named_schemas=named)
            parsed = fastavro.parse_schema(json.loads(schema.schema_str), named_schemas=named)
        except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
            raise UnusableSchemaError(f"not an Avro schema: {exc}") from None
        from driftd.avro import read_datum

        def read(value: bytes) -> Any:
            return read_datum(value, parsed, start=5)

        self._avro_schemas[sid] = (parsed, named)
        return read

    def resolved(self, fmt: str, sid: int) -> bool:
        """Whether records of ``sid`` in ``fmt`` can be read now."""
        return (fmt, sid) in self._readers

    def protobuf_descriptor(self, sid: int, indexes: tuple[int, ...]) -> Any | None:
        """The message type of a resolved id at ``indexes``, or None."""
        reader = self._readers.get(("protobuf", sid))
        if reader is None:
            return None
        try:
            return reader.descriptor(indexes)  # type: ignore[attr-defined]
        except DecodeError:
            return None

    def avro_schema(self, sid: int) -> tuple[Any, dict[str, Any]] | None:
        """The parsed Avro schema of a resolved id and the named types it references."""
        return self._avro_schemas.get(sid) if self.resolved("avro", sid) else None

    def _protobuf(self, sid: int) -> Reader:
        from driftd.protobuf import message_reader

        schema = self._client.get_schema(sid, fmt="serialized")
        return message_reader(schema, self._client, sid)

    def reader(self, fmt: str, value: bytes | None) -> Reader:
        """The reader for one record's value; DecodeError when it cannot be read."""
        if value is None:
            raise DecodeError("empty", "record has no value (tombstone)")
        sid = schema_id(value)
        if sid is None:
            raise DecodeError(
                "not_wire_format",
                "not on the Confluent wire format (a 0 byte and a 4-byte schema id first)",
            )
        reader = self._readers.get((fmt, sid))
        if reader is None:
            _, reason, detail = self._unknown.get(sid, (0.0, "unknown_schema_id", f"id {sid}"))
            raise DecodeError(reason, detail)
        return reader


def _json_reader() -> Reader:
    decoder = msgspec.json.Decoder()

    def read(value: bytes) -> Any:
        try:
            return decoder.decode(value[5:])
        except msgspec.DecodeError as exc:
            raise DecodeError("invalid_json", str(exc)) from None

    return read


def rows_of(registry: Registry, fmt: str) -> Callable[[bytes | None, Any], list[dict[str, Any]]]:
    """The function from a wire-format record value to its one row document."""

    from driftd.avro import as_rows

    def rows(value: bytes | None, headers: Any) -> list[dict[str, Any]]:
        return as_rows(registry.reader(fmt, value)(value))  # type: ignore[arg-type]

    return rows
