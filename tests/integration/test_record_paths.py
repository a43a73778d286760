"""Record paths on the real broker: the same events as flat JSON, and as a KServe v1 style
payload (``instances`` rows) with the id in a header, the model in the record key and the event
time from the record's own timestamp, give the same verdicts window by window."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from kafka import KafkaProducer

from driftd.app import make_source
from driftd.config import parse_config
from driftd.daemon import Daemon
from driftd.health import Health
from driftd.metrics import build_metrics
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.records import Verdict
from driftd.synthetic import events
from tests.integration.helpers import Background, wait_until

pytestmark = pytest.mark.integration

PROFILE = Path(__file__).resolve().parents[1] / "data" / "fraud.profile"
WINDOW = 1000
WINDOWS = 8


class Collect:
    def __init__(self) -> None:
        self.verdicts: list[Verdict] = []

    def publish(self, verdicts: list[Verdict]) -> None:
        self.verdicts.extend(verdicts)


class Run:
    """Every monitor of ``cfg`` over ``topics`` on the real broker until each closed
    ``WINDOWS`` windows; the verdicts, metrics and processor afterwards."""

    def __init__(self, cfg: Any, topics: list[str]) -> None:
        self.collect = Collect()
        self.metrics = build_metrics()
        self.processor = MonitoringProcessor(cfg, load_profiles(cfg), [self.collect])
        daemon = Daemon(cfg, lambda cb: make_source(cfg.kafka, topics, cb), self.processor,
                        self.metrics, Health())  # fmt: skip
        run = Background(daemon.run)
        monitors = self.processor.monitors
        wait_until(lambda: all(m.windows_closed >= WINDOWS for m in monitors), 120, "windows")
        daemon.stop()
        run.join()

    def seen(self, monitor: str, *, times: bool = True) -> list[tuple[Any, ...]]:
        """The monitor's verdicts, comparable across monitors (window times optional)."""
        return sorted(
            (v.kind, v.feature, v.statistic, v.window_index, v.state.value, round(v.value, 12),
             *((v.window_start, v.window_end) if times else ()))
            for v in self.collect.verdicts if v.monitor == monitor and v.window_index < WINDOWS
        )  # fmt: skip

    def drifted(self, monitor: str) -> set[str]:
        """Features of ``monitor`` that drifted in some window."""
        return {v.feature for v in self.collect.verdicts if v.monitor == monitor and v.drifted}

    def all_decoded(self) -> bool:
        """Whether no record was rejected."""
        samples = self.metrics.records_rejected.collect()[0].samples
        return not [s for s in samples if s.value]


def _config(bootstrap: str, flat: str, kserve: str) -> Any:
    monitor = (
        f"reference: {PROFILE}, features: [amount, age, country], "
        f"window: {{type: count, size: {WINDOW}}}"
    )
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["{bootstrap}"], group_id: g-{flat}, poll_timeout: 200ms}}
streams:
  - name: flat
    topic: {flat}
    fields:
      id: request_id
      timestamp: ts
      model: model
      prediction: score
      features: {{amount: features.amount, age: features.age, country: features.country}}
  - name: kserve
    topic: {kserve}
    fields:
      id: headers.ce_id
      timestamp: kafka.timestamp
      model: key
      prediction: headers.score
      features: {{amount: instances.0.0, age: instances.0.1, country: instances.0.2}}
monitors:
  - {{name: flat, streams: [flat], {monitor}}}
  - {{name: kserve, streams: [kserve], {monitor}}}
""",
        env={},
    )


def test_the_same_events_through_record_paths_give_the_same_verdicts(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    flat, kserve = make_topic("flat", partitions=1), make_topic("kserve", partitions=1)
    values = [*events(5 * WINDOW, seed=31), *events(3 * WINDOW, seed=32, shift=1.0,
              first_id=5 * WINDOW)]  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    encode = msgspec.json.Encoder().encode
    for e in values:
        producer.send(flat, encode(e), timestamp_ms=e["ts"])
        row = [e["features"]["amount"], e["features"]["age"], e["features"]["country"]]
        producer.send(
            kserve,
            encode({"instances": [row]}),
            key=e["model"].encode(),
            headers=[("ce_id", e["request_id"].encode()), ("score", str(e["score"]).encode())],
            timestamp_ms=e["ts"],
        )
    producer.flush()
    producer.close()

    run = Run(_config(kafka_bootstrap, flat, kserve), [flat, kserve])
    assert run.seen("kserve") == run.seen("flat")
    drifted = run.drifted("kserve")
    assert {"amount", "country", "score"} <= drifted, drifted
    assert "age" not in drifted
    assert run.all_decoded()


def test_kserve_logger_batches_in_binary_cloudevents_give_the_flat_verdicts(
    kafka_bootstrap: str, make_topic: Callable[..., str]
) -> None:
    """Records shaped as KServe's logger writes them through a Knative Kafka sink: the request
    body (``{"instances": [...]}`` with 4 rows each) as the value, the CloudEvent attributes as
    ``ce_*`` headers; on a second stream, Open Inference Protocol v2 requests; and on a third,
    the same requests as the protobuf ``ModelInferRequest`` Seldon Core 2 writes (typed
    contents for two tensors, raw little-endian contents for the third)."""
    import numpy as np

    from driftd.seldon import message_class

    flat = make_topic("flat", partitions=1)
    kserve = make_topic("kserve-ce", partitions=1)
    oip = make_topic("oip", partitions=1)
    seldon = make_topic("seldon", partitions=1)
    values = [*events(5 * WINDOW, seed=41), *events(3 * WINDOW, seed=42, shift=1.0,
              first_id=5 * WINDOW)]  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    encode = msgspec.json.Encoder().encode
    for e in values:
        producer.send(flat, encode(e), timestamp_ms=e["ts"])
    for lo in range(0, len(values), 4):
        rows = values[lo : lo + 4]
        ts = rows[0]["ts"]
        instances = [[r["features"]["amount"], r["features"]["age"], r["features"]["country"]]
                     for r in rows]  # fmt: skip
        headers = [
            ("ce_specversion", b"1.0"), ("ce_id", f"req-{lo}".encode()),
            ("ce_type", b"org.kubeflow.serving.inference.request"),
            ("ce_source", b"http://fraud-predictor/"), ("ce_inferenceservicename", b"fraud-v3"),
        ]  # fmt: skip
        producer.send(kserve, encode({"instances": instances}), headers=headers, timestamp_ms=ts)
        tensors = {
            "id": f"req-{lo}", "model_name": "fraud-v3",
            "inputs": [
                {"name": "amount", "shape": [len(rows)], "datatype": "FP64",
                 "data": [r["features"]["amount"] for r in rows]},
                {"name": "num", "shape": [len(rows), 1], "datatype": "INT64",
                 "data": [[r["features"]["age"]] for r in rows]},
                {"name": "country", "shape": [len(rows)], "datatype": "BYTES",
                 "data": [r["features"]["country"] for r in rows]},
            ],
        }  # fmt: skip
        producer.send(oip, encode(tensors), timestamp_ms=ts)
        request = message_class("ModelInferRequest")(id=f"req-{lo}", model_name="fraud-v3")
        amount = request.inputs.add(name="amount", datatype="FP64", shape=[len(rows)])
        amount.contents.fp64_contents.extend(r["features"]["amount"] for r in rows)
        request.inputs.add(name="num", datatype="INT64", shape=[len(rows), 1])
        country = request.inputs.add(name="country", datatype="BYTES", shape=[len(rows)])
        country.contents.bytes_contents.extend(r["features"]["country"].encode() for r in rows)
        ages = np.array([r["features"]["age"] for r in rows], dtype="<i8").tobytes()
        # Raw contents are all or nothing: every tensor's bytes, in the order of the inputs.
        request.raw_input_contents.extend([
            np.array(amount.contents.fp64_contents, dtype="<f8").tobytes(), ages,
            b"".join(len(c).to_bytes(4, "little") + c for c in country.contents.bytes_contents),
        ])  # fmt: skip
        amount.ClearField("contents")
        country.ClearField("contents")
        producer.send(seldon, request.SerializeToString(), timestamp_ms=ts)
    producer.flush()
    producer.close()

    monitor = f"reference: {PROFILE}, features: [amount, age, country], window: " + (
        f"{{type: count, size: {WINDOW}}}"
    )
    cfg = parse_config(
        f"""
kafka: {{bootstrap_servers: ["{kafka_bootstrap}"], group_id: g-{kserve}, poll_timeout: 200ms}}
streams:
  - name: flat
    topic: {flat}
    fields:
      timestamp: ts
      features: {{amount: features.amount, age: features.age, country: features.country}}
  - name: kserve
    topic: {kserve}
    protocol: kserve_v1
    fields:
      id: id
      timestamp: kafka.timestamp
      model: ce.inferenceservicename
      features: {{amount: instance.0, age: instance.1, country: instance.2}}
  - name: oip
    topic: {oip}
    protocol: open_inference_v2
    fields:
      id: id
      timestamp: kafka.timestamp
      model: model_name
      features: {{amount: inputs.amount, age: inputs.num, country: inputs.country}}
  - name: seldon
    topic: {seldon}
    protocol: seldon_v2
    fields:
      id: id
      timestamp: kafka.timestamp
      model: model_name
      features: {{amount: inputs.amount, age: inputs.num, country: inputs.country}}
monitors:
  - {{name: flat, streams: [flat], prediction_drift: false, {monitor}}}
  - {{name: seldon, streams: [seldon], model: fraud-v3, prediction_drift: false, {monitor}}}
  - {{name: kserve, streams: [kserve], model: fraud-v3, prediction_drift: false, {monitor}}}
  - {{name: oip, streams: [oip], model: fraud-v3, prediction_drift: false, {monitor}}}
""",
        env={},
    )
    run = Run(cfg, [flat, kserve, oip, seldon])
    # Event times differ: the flat stream's own, the others' from their record (the batch's
    # first row), so the windows are compared without them.
    assert run.seen("kserve", times=False) == run.seen("flat", times=False)
    assert run.seen("oip", times=False) == run.seen("flat", times=False)
    assert run.seen("seldon", times=False) == run.seen("flat", times=False)
    drifted = run.drifted("kserve")
    assert {"amount", "country"} <= drifted and "age" not in drifted, drifted
    assert run.processor.events["kserve"] == run.processor.events["oip"] == len(values)
    assert run.processor.events["seldon"] == len(values)
    assert run.all_decoded()


def test_plain_avro_records_give_the_flat_verdicts(
    kafka_bootstrap: str, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    """Records written by fastavro's schemaless writer (one datum of an .avsc per record)."""
    import io
    import json

    import fastavro

    schema = {
        "type": "record", "name": "Prediction", "fields": [
            {"name": "ts", "type": "long"},
            {"name": "features", "type": {"type": "record", "name": "F", "fields": [
                {"name": "amount", "type": "double"}, {"name": "age", "type": "long"},
                {"name": "country", "type": "string"}]}},
        ],
    }  # fmt: skip
    avsc = tmp_path / "prediction.avsc"
    avsc.write_text(json.dumps(schema))
    parsed = fastavro.parse_schema(schema)
    flat, avro = make_topic("flat", partitions=1), make_topic("avro", partitions=1)
    values = [*events(5 * WINDOW, seed=51), *events(3 * WINDOW, seed=52, shift=1.0,
              first_id=5 * WINDOW)]  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    encode = msgspec.json.Encoder().encode
    for e in values:
        producer.send(flat, encode(e), timestamp_ms=e["ts"])
        buf = io.BytesIO()
        f = e["features"]
        datum = {"ts": e["ts"], "features": {k: f[k] for k in ("amount", "age", "country")}}
        fastavro.schemaless_writer(buf, parsed, datum)
        producer.send(avro, buf.getvalue(), timestamp_ms=e["ts"])
    producer.flush()
    producer.close()
    monitor = f"reference: {PROFILE}, features: [amount, age, country], prediction_drift: false"
    monitor += f", window: {{type: count, size: {WINDOW}}}"
    mapping = "{amount: features.amount, age: features.age, country: features.country}"
    cfg = parse_config(
        f"""
kafka: {{bootstrap_servers: ["{kafka_bootstrap}"], group_id: g-{avro}, poll_timeout: 200ms}}
streams:
  - {{name: flat, topic: {flat}, fields: {{timestamp: ts, features: {mapping}}}}}
  - {{name: avro, topic: {avro}, format: avro, schema_file: {avsc},
      fields: {{timestamp: ts, features: {mapping}}}}}
monitors:
  - {{name: flat, streams: [flat], {monitor}}}
  - {{name: avro, streams: [avro], {monitor}}}
""",
        env={},
    )
    run = Run(cfg, [flat, avro])
    assert run.seen("avro") == run.seen("flat")
    assert {"amount", "country"} <= run.drifted("avro")
    assert run.all_decoded()
