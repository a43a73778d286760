"""Benchmark of decoding: events per second for each input shape, against flat JSON.

Prints one JSON object per line: ``{"name", "n", "value", "unit", "baseline", "ratio"}``. The
baseline is flat JSON (one event per record, dotted keys) decoded in the same run, interleaved,
on the same events; ``ratio`` is the shape's rate over the baseline's (higher is better).
Shapes: record paths (id in a header, model in the key, time from Kafka), KServe v1 batches
of 8 rows in binary CloudEvents, Open Inference Protocol v2 tensors of 8 rows, plain Avro (a
schema file), and the Confluent wire format as confluent-kafka's serializers write it: Avro,
Protobuf and JSON Schema (schemas from confluent-kafka's in-process mock registry: each id is
fetched once, so the registry's latency is not part of the rate).

    python bench/decoding.py            # 200,000 events, 5 rounds
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from driftd.config.models import StreamConfig
from driftd.decoding import StreamDecoder
from driftd.sources.base import Partition, Record
from driftd.synthetic import events

BATCH = 5000
ROWS = 8
NAMES = ("amount", "age", "country", "device")
# What the daemon hands each decoder from the monitors' profiles (driftd.daemon): the kinds of
# the features, which let numbers be decoded straight into float64 columns.
KINDS = {"amount": "numeric", "age": "numeric", "country": "categorical", "device": "categorical"}


def emit(name: str, n: int, value: float, unit: str, *, baseline: float, ratio: float) -> None:
    line = {"name": name, "n": n, "value": round(value, 2), "unit": unit}
    line |= {"baseline": round(baseline, 2), "ratio": round(ratio, 3)}
    print(json.dumps(line), flush=True)


def _decoder(
    fields: dict[str, Any], protocol: str = "none", registry: Any = None, **more: Any
) -> StreamDecoder:
    cfg = StreamConfig.model_validate(
        {"name": "s", "topic": "t", "protocol": protocol, "fields": fields, **more}
    )
    return StreamDecoder(cfg, clock=lambda: 1e10, registry=registry, kinds=KINDS)


def _wire_shapes(rows: list[dict[str, Any]]) -> dict[str, tuple[StreamDecoder, list[Record], int]]:
    """Avro from a schema file, and the three Confluent wire formats."""
    import tempfile

    import fastavro
    from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
        MockSchemaRegistryClient,
    )

    from driftd.config.models import SchemaRegistryConfig
    from driftd.registry import Registry
    from tests.registry.records import AVRO, avro_event, serializers

    client = MockSchemaRegistryClient({"url": "mock://bench"})
    registry = Registry(SchemaRegistryConfig(url="http://mock"), client=client)
    write = serializers(client)
    fields = {"id": "request_id", "timestamp": "ts", "model": "model", "prediction": "score",
              "features": {k: f"features.{k}" for k in ("amount", "age", "country")}}  # fmt: skip
    out: dict[str, tuple[StreamDecoder, list[Record], int]] = {}
    for fmt in ("avro", "protobuf", "json_schema"):
        records = [Record(i, write[fmt](e, f"t-{fmt}"), e["ts"]) for i, e in enumerate(rows)]
        decoder = _decoder(fields, registry=registry, format=fmt)
        decoder.prepare([r.value for r in records])
        out[f"{fmt}_registry"] = (decoder, records, len(rows))
    schema = fastavro.parse_schema(AVRO)
    with tempfile.NamedTemporaryFile("w", suffix=".avsc", delete=False) as f:
        json.dump(AVRO, f)
    plain = []
    for i, e in enumerate(rows):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, avro_event(e))
        plain.append(Record(i, buf.getvalue(), e["ts"]))
    out["avro_schema_file"] = (
        _decoder(fields, format="avro", schema_file=f.name),
        plain,
        len(rows),
    )
    return out


def shapes(n: int) -> dict[str, tuple[StreamDecoder, list[Record], int]]:
    """Each shape's decoder, records and event count."""
    rows = list(events(n, seed=1))
    enc = msgspec.json.Encoder().encode
    flat = [Record(i, enc(e), e["ts"]) for i, e in enumerate(rows)]
    paths = [
        Record(i, enc({"x": e["features"]}), e["ts"], e["model"].encode(),
               (("id", e["request_id"].encode()),))
        for i, e in enumerate(rows)
    ]  # fmt: skip
    kserve, oip = [], []
    for lo in range(0, n, ROWS):
        chunk = rows[lo : lo + ROWS]
        instances = [[e["features"][k] for k in NAMES] for e in chunk]
        headers = (("ce_specversion", b"1.0"), ("ce_id", f"r{lo}".encode()),
                   ("ce_type", b"org.kubeflow.serving.inference.request"))  # fmt: skip
        kserve.append(Record(lo, enc({"instances": instances}), chunk[0]["ts"], None, headers))
        tensors = [
            {"name": k, "shape": [len(chunk)], "datatype": "BYTES" if k in ("country", "device")
             else "FP64", "data": [e["features"][k] for e in chunk]}
            for k in NAMES
        ]  # fmt: skip
        oip.append(Record(lo, enc({"id": f"r{lo}", "inputs": tensors}), chunk[0]["ts"]))
    return {
        "flat_json": (_decoder({"id": "request_id", "timestamp": "ts", "model": "model",
                      "features": {k: f"features.{k}" for k in NAMES}}), flat, n),
        "record_paths": (_decoder({"id": "headers.id", "timestamp": "kafka.timestamp",
                         "model": "key", "features": {k: f"x.{k}" for k in NAMES}}), paths, n),
        "kserve_v1_cloudevents": (_decoder({"id": "id", "timestamp": "kafka.timestamp",
                                  "features": {k: f"instance.{i}" for i, k in enumerate(NAMES)}},
                                  "kserve_v1"), kserve, n),
        "open_inference_v2": (_decoder({"id": "id", "timestamp": "kafka.timestamp",
                              "features": {k: f"inputs.{k}" for k in NAMES}},
                              "open_inference_v2"), oip, n),
        **_wire_shapes(rows),
    }  # fmt: skip


def rate(decoder: StreamDecoder, records: list[Record], n: int) -> float:
    """Events per second decoding ``records`` in poll batches of BATCH records."""
    part = Partition("t", 0)
    started = time.perf_counter()
    got = 0
    for lo in range(0, len(records), BATCH):
        chunk = records[lo : lo + BATCH]
        got += len(decoder.decode([r.value for r in chunk], chunk, part))
    assert got == n, (got, n)
    return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    cases = shapes(args.events)
    # The collector settings `driftd run` uses (driftd.app.tune_gc): protocol rows are Python
    # dicts, and with CPython's default gen-0 threshold collections would dominate.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    best: dict[str, float] = dict.fromkeys(cases, 0.0)
    measure: Callable[[str], float] = lambda name: rate(*cases[name])  # noqa: E731
    for name in cases:
        measure(name)  # warm up
    for _ in range(args.rounds):  # interleaved, best of rounds
        for name in cases:
            best[name] = max(best[name], measure(name))
    base = best["flat_json"]
    for name, value in best.items():
        emit(f"decode_{name}", args.events, value, "events/s", baseline=base, ratio=value / base)


if __name__ == "__main__":
    main()
