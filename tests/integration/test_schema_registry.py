"""Schema Registry records, written by confluent-kafka's own serializers through a real registry
(Apicurio's Confluent-compatible API, tests/registry/), read by driftd: Avro, Protobuf and JSON
Schema on the real broker give the verdicts of the same events as flat JSON; a new schema
version mid-stream just works; unknown ids and foreign bytes are dead letters with their
reason; a registry outage holds the records (none dead-lettered, /readyz says why) and driftd
reads them once it answers again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from kafka import KafkaProducer

from driftd.config import parse_config
from driftd.config.models import SchemaRegistryConfig
from driftd.decoding import StreamDecoder
from driftd.errors import RegistryUnavailableError
from driftd.registry import Registry
from driftd.synthetic import events
from tests.integration.test_record_paths import WINDOW, WINDOWS, Run
from tests.registry.records import serializers, stream_config

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"


def _serializers(url: str) -> dict[str, Callable[[dict[str, Any], str], bytes]]:
    return serializers(SchemaRegistryClient({"url": url}))


def _registry(url: str) -> Registry:
    return Registry(SchemaRegistryConfig(url=url, timeout=5.0))


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return list(events(200, seed=5))


@pytest.mark.parametrize("fmt", ["avro", "protobuf", "json_schema"])
def test_each_format_decodes_to_the_flat_json_events(
    schema_registry_url: str, sample: list[dict[str, Any]], fmt: str
) -> None:
    topic = f"decode-{fmt}"
    write = _serializers(schema_registry_url)[fmt]
    values = [write(e, topic) for e in sample]
    decoder = StreamDecoder(stream_config(fmt), registry=_registry(schema_registry_url))
    decoder.prepare(values)
    got = decoder.decode(values)
    flat = StreamDecoder(stream_config("json")).decode([msgspec.json.encode(e) for e in sample])
    assert not got.rejected
    assert got.features == flat.features
    assert got.ids == flat.ids and got.predictions == flat.predictions
    assert got.models == flat.models
    assert list(got.timestamps) == list(flat.timestamps)


def test_a_new_schema_version_mid_stream_just_works(
    schema_registry_url: str, sample: list[dict[str, Any]]
) -> None:
    serializers = _serializers(schema_registry_url)
    values = [
        serializers["avro_v2" if i % 2 else "avro"](e, "evolve") for i, e in enumerate(sample)
    ]
    assert len({v[1:5] for v in values}) == 2  # two writer schema ids, interleaved
    decoder = StreamDecoder(stream_config("avro"), registry=_registry(schema_registry_url))
    decoder.prepare(values)
    got = decoder.decode(values)
    assert not got.rejected
    assert got.features["amount"] == [e["features"]["amount"] for e in sample]


def test_foreign_bytes_and_unknown_ids_are_dead_letters_with_their_reason(
    schema_registry_url: str, sample: list[dict[str, Any]]
) -> None:
    good = _serializers(schema_registry_url)["avro"](sample[0], "bad-input")
    values: list[bytes | None] = [
        good,
        b'{"a": 1}',  # JSON, not the wire format
        b"\x00\x7f\xff\xff\xf0" + good[5:],  # an id the registry never gave
        good[:5] + b"\xff\xff\xff",  # the right id, a payload that is no datum of it
        good[:3],  # too short for a header
        None,
    ]
    decoder = StreamDecoder(stream_config("avro"), registry=_registry(schema_registry_url))
    decoder.prepare(values)
    got = decoder.decode(values)
    reasons = {r.index: r.error.reason for r in got.rejected}
    assert reasons == {
        1: "not_wire_format",
        2: "unknown_schema_id",
        3: "invalid_avro",
        4: "not_wire_format",
        5: "empty",
    }
    assert got.ids == [sample[0]["request_id"]]


def test_an_unreachable_registry_raises_instead_of_rejecting(
    own_schema_registry: Any, sample: list[dict[str, Any]]
) -> None:
    values = [_serializers(own_schema_registry.url)["avro"](e, "outage") for e in sample]
    registry = _registry(own_schema_registry.url)
    own_schema_registry.stop()
    decoder = StreamDecoder(stream_config("avro"), registry=registry)
    with pytest.raises(RegistryUnavailableError, match="did not answer"):
        decoder.prepare(values)
    assert registry.up is False


# -- on the real broker ----------------------------------------------------------------------


def _config(bootstrap: str, registry: str, topics: dict[str, str]) -> Any:
    monitor = (
        f"reference: {PROFILE}, features: [amount, age, country], "
        f"window: {{type: count, size: {WINDOW}}}"
    )
    streams = "\n".join(
        f"""  - name: {name}
    topic: {topic}
    format: {name}
    fields:
      id: request_id
      timestamp: ts
      model: model
      prediction: score
      features: {{amount: features.amount, age: features.age, country: features.country}}"""
        for name, topic in topics.items()
    )
    monitors = "\n".join(f"  - {{name: {name}, streams: [{name}], {monitor}}}" for name in topics)
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["{bootstrap}"], group_id: g-{topics["json"]}, poll_timeout: 200ms}}
schema_registry: {{url: "{registry}", timeout: 5s, retry_backoff_max: 2s}}
streams:
{streams}
monitors:
{monitors}
""",
        env={},
    )


def _produce(
    bootstrap: str, topics: dict[str, str], values: list[dict[str, Any]], url: str
) -> None:
    serializers = _serializers(url)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for e in values:
        for fmt, topic in topics.items():
            value = msgspec.json.encode(e) if fmt == "json" else serializers[fmt](e, topic)
            producer.send(topic, value, timestamp_ms=e["ts"])
    producer.flush()
    producer.close()


@pytest.fixture
def stream_events() -> list[dict[str, Any]]:
    return [
        *events(5 * WINDOW, seed=41),
        *events(3 * WINDOW, seed=42, shift=1.0, first_id=5 * WINDOW),
    ]


def test_every_format_on_the_broker_gives_the_flat_json_verdicts(
    kafka_bootstrap: str,
    make_topic: Callable[..., str],
    schema_registry_url: str,
    stream_events: list[dict[str, Any]],
) -> None:
    topics = {fmt: make_topic(fmt.replace("_", "-")) for fmt in
              ("json", "avro", "protobuf", "json_schema")}  # fmt: skip
    _produce(kafka_bootstrap, topics, stream_events, schema_registry_url)
    run = Run(_config(kafka_bootstrap, schema_registry_url, topics), list(topics.values()))
    flat = run.seen("json")
    assert len({v[3] for v in flat}) == WINDOWS
    for fmt in ("avro", "protobuf", "json_schema"):
        assert run.seen(fmt) == flat, fmt
    assert {"amount", "country", "score"} <= run.drifted("avro")
    assert run.all_decoded()


def test_a_registry_outage_holds_the_records_and_loses_none(
    kafka_bootstrap: str,
    make_topic: Callable[..., str],
    own_schema_registry: Any,
    stream_events: list[dict[str, Any]],
) -> None:
    from driftd.app import make_source
    from driftd.daemon import Daemon
    from driftd.health import Health
    from driftd.metrics import build_metrics
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from tests.integration.helpers import Background, wait_until
    from tests.integration.test_record_paths import Collect
    from tests.registry.server import Gate

    # driftd reaches the registry through a gate: closing it is the outage, and the registry
    # keeps its schemas meanwhile (as a real one's storage does).
    gate = Gate(own_schema_registry.port)
    url = f"http://127.0.0.1:{gate.port}/apis/ccompat/v7"
    topics = {"json": make_topic("json"), "avro": make_topic("avro")}
    cfg = _config(kafka_bootstrap, url, topics)
    # The schema is registered directly; driftd never gets to ask for it before the outage.
    _produce(kafka_bootstrap, topics, stream_events, own_schema_registry.url)

    collect = Collect()
    metrics = build_metrics()
    health = Health()
    processor = MonitoringProcessor(cfg, load_profiles(cfg), [collect])
    daemon = Daemon(cfg, lambda cb: make_source(cfg.kafka, list(topics.values()), cb),
                    processor, metrics, health)  # fmt: skip
    run = Background(daemon.run)
    try:
        wait_until(lambda: metrics.registry_unavailable._value.get() >= 3, 60, "held batches")
        ready, why = health.ready()
        assert not ready and "schema_registry" in why
        avro_monitor = next(m for m in processor.monitors if m.name == "avro")
        assert avro_monitor.windows_closed == 0
        gate.open()  # the registry is reachable again
        wait_until(lambda: avro_monitor.windows_closed >= WINDOWS, 120, "avro windows")
        wait_until(lambda: health.ready()[0], 30, "ready again")
    finally:
        daemon.stop()
        run.join()
        gate.close()

    def seen(monitor: str) -> list[tuple[Any, ...]]:
        return sorted(
            (v.feature, v.statistic, v.window_index, v.state.value, round(v.value, 12))
            for v in collect.verdicts if v.monitor == monitor and v.window_index < WINDOWS
        )  # fmt: skip

    assert seen("avro") == seen("json")
    rejected = [s for s in metrics.records_rejected.collect()[0].samples if s.value]
    assert rejected == []
