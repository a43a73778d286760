"""``driftd demo``: the whole pipeline on a synthetic fraud model, no Kafka needed.

The demo builds a reference profile from synthetic training data, then streams JSON events
through the same decoder, monitors, thresholds, label join, river detectors and alerting the
daemon uses. Two drifts are injected at known points:

- a covariate shift (``amount`` grows, the ``country`` mix changes) for a stretch of events;
- a concept change later on: the same inputs, but the labelling rule flips.

Labels arrive late and out of order. Alerts go through the real alerting pipeline to a local
webhook receiver that prints them; ``/metrics`` and ``/status`` are served while it runs.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import msgspec

from driftd.alerting.wording import describe
from driftd.records import State, Verdict


@dataclass(frozen=True)
class Plan:
    """Where the injected drifts are, in events."""

    window: int = 2000
    total: int = 80_000
    shift_start: int = 24_000
    shift_end: int = 40_000
    concept_start: int = 56_000
    label_delay: int = 1500


@dataclass
class Timeline:
    """What the demo saw, for the summary."""

    out: IO[str]
    started: float = field(default_factory=time.monotonic)
    first_data_drift: dict[str, int] = field(default_factory=dict)
    first_concept_drift: int | None = None
    data_drift_before_shift: list[str] = field(default_factory=list)
    concept_before_change: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, text: str) -> None:
        with self.lock:
            print(f"{time.monotonic() - self.started:6.1f}s  {text}", file=self.out, flush=True)


class TimelineSink:
    """Prints drift transitions per window and records first detections."""

    def __init__(self, timeline: Timeline, plan: Plan, position: list[int]) -> None:
        self.t = timeline
        self.plan = plan
        self.position = position
        self._state: dict[tuple[str, str, str], State] = {}

    def publish(self, verdicts: list[Verdict]) -> None:
        changes = []
        for v in verdicts:
            if v.state is State.INSUFFICIENT:
                continue
            key = (v.kind, v.feature, v.statistic)
            before = self._state.get(key, State.OK)
            self._state[key] = v.state
            at = self.position[0]
            plan = self.plan
            # While the covariate shift lasts (plus a window to flush it), the model's error
            # really does rise, so concept alarms there are the shift's, not false alarms.
            in_shift = plan.shift_start < at <= plan.shift_end + plan.window
            if v.drifted and v.kind in {"data", "prediction"}:
                if at > plan.shift_start:
                    self.t.first_data_drift.setdefault(v.feature, at)
                elif at <= plan.shift_start:
                    self.t.data_drift_before_shift.append(f"{v.feature}/{v.statistic}")
            if v.drifted and v.kind == "concept":
                if at > plan.concept_start:
                    if self.t.first_concept_drift is None:
                        self.t.first_concept_drift = at
                elif not in_shift:
                    self.t.concept_before_change.append(f"{v.statistic} at event {at:,}")
            if v.state is not before:
                changes.append(v)
        for v in changes:
            what = {
                "data": "DATA DRIFT",
                "prediction": "PREDICTION DRIFT",
                "schema": "DATA QUALITY",
                "concept": "CONCEPT DRIFT",
            }[v.kind]
            name = f"{v.feature} {v.statistic}".strip()
            if v.drifted and v.kind == "concept":
                # A detector's "limit" is the error before the change: say so in words.
                self.t.say(f"event {self.position[0]:>6,}  {what:<17} {describe(v)}")
            elif v.drifted:
                self.t.say(
                    f"event {self.position[0]:>6,}  {what:<17} {name} = {v.value:.4g} "
                    f"(limit {v.limit:.4g})  {v.detail}"
                )
            else:
                self.t.say(
                    f"event {self.position[0]:>6,}  {'back to normal':<17} {name} = {v.value:.4g}"
                )


def _webhook_server(timeline: Timeline) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            doc = json.loads(body or b"{}")
            for alert in doc.get("alerts", []):
                labels = alert.get("labels", {})
                what = ", ".join(
                    f"{k}={labels[k]}" for k in ("feature", "statistic") if labels.get(k)
                )
                line = (
                    f"ALERT {alert.get('status', '?').upper():<8} "
                    f"{labels.get('alertname', '?')} monitor={labels.get('monitor', '?')} {what}"
                )
                timeline.alerts.append(line)
                timeline.say(f"{'':13}{line}  (webhook)")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _config_text(profile: Path, state: Path, webhook: str, port: int, plan: Plan) -> str:
    return f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9092"]}}
http: {{host: 127.0.0.1, port: {port}}}
streams:
  - name: predictions
    topic: fraud.predictions
    fields:
      id: request_id
      timestamp: ts
      model: model
      features:
        amount: features.amount
        age: features.age
        tenure_days: features.tenure_days
        country: features.country
        device: features.device
        merchant: features.merchant
      prediction: score
  - name: labels
    topic: fraud.labels
    fields: {{id: request_id, label: label}}
monitors:
  - name: fraud
    streams: [predictions, labels]
    model: fraud-v3
    reference: {profile}
    window: {{type: count, size: {plan.window}}}
    concept:
      detectors: [{{type: adwin}}, {{type: hddm_a}}]
      performance:
        window: {plan.window}
        metrics: [accuracy, f1]
        max_drop: {{accuracy: {{absolute: 0.1}}}}
alerting:
  outbox_dir: {state / "alerting"}
  rules:
    - {{name: data, matchers: ['alertname=~"DataDrift|PredictionDrift"'], for_windows: 2,
        severity: warning}}
    - {{name: concept, matchers: ['alertname="ConceptDrift"'], severity: critical,
        keep_firing_for_windows: 1}}
  route:
    receiver: console
    group_by: [alertname, monitor]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - {{name: console, type: webhook, url: "{webhook}"}}
  delivery: {{initial_backoff: 0.2s, max_backoff: 1s}}
"""


def _stream(plan: Plan, seed: int) -> tuple[list[bytes], list[bytes]]:
    """Prediction events and label events, labels delayed and shuffled within blocks."""
    from driftd.synthetic import events

    encode = msgspec.json.Encoder().encode
    predictions: list[bytes] = []
    labels: list[tuple[int, bytes]] = []
    rng = random.Random(seed)
    block = plan.window
    for lo in range(0, plan.total, block):
        shifted = plan.shift_start <= lo < plan.shift_end
        flipped = lo >= plan.concept_start
        for event in events(
            block, seed=seed + lo, shift=1.0 if shifted else 0.0, flip=flipped, first_id=lo
        ):
            label = event.pop("label")
            predictions.append(encode(event))
            # A label shows up label_delay (± half) events after its prediction.
            due = len(predictions) + plan.label_delay + rng.randint(-block // 4, block // 4)
            labels.append((due, encode({"request_id": event["request_id"], "label": label})))
    labels.sort(key=lambda x: x[0])
    return predictions, [value for _, value in labels]


def run_demo(
    port: int = 9108,
    rate: float = 40_000.0,
    out: IO[str] | None = None,
    seed: int = 7,
    report: str | Path | None = None,
) -> Timeline:
    """Run the demo; returns the timeline (tests check both drifts were reported). With
    ``report``, the HTML report of the whole stream is written there at the end."""
    out = out if out is not None else sys.stdout
    from driftd.alerting import build_alerting
    from driftd.concept import build_concept_metrics
    from driftd.config import parse_config
    from driftd.config.models import HttpConfig
    from driftd.daemon import Daemon
    from driftd.health import Health
    from driftd.http import HttpServer
    from driftd.metrics import build_metrics
    from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
    from driftd.monitoring.sinks import AlertingSink, MetricsSink
    from driftd.reference import BuildOptions, build_profile, save_profile
    from driftd.report.live import LivePage
    from driftd.sources.files import IterSource
    from driftd.synthetic import columns

    plan = Plan()
    timeline = Timeline(out)
    with tempfile.TemporaryDirectory(prefix="driftd-demo-") as tmp:
        state = Path(tmp)
        timeline.say("building a reference profile from 20,000 synthetic training rows ...")
        train = columns(20_000, seed=1)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                k: getattr(train, k)
                for k in (
                    "amount",
                    "age",
                    "tenure_days",
                    "country",
                    "device",
                    "merchant",
                    "score",
                    "label",
                )
            }
        )
        pq.write_table(table, state / "train.parquet")
        profile = build_profile(
            state / "train.parquet", BuildOptions(label="label", prediction="score")
        )
        path = save_profile(profile, state / "fraud.profile")
        perf = ", ".join(f"{k} {v:.3f}" for k, v in sorted(profile.performance.items()))
        timeline.say(f"reference performance: {perf}")

        webhook = _webhook_server(timeline)
        url = f"http://127.0.0.1:{webhook.server_address[1]}/alerts"
        config = parse_config(_config_text(path, state, url, port, plan), env={})
        metrics = build_metrics()
        alerting = build_alerting(config.alerting, metrics.registry)
        position = [0]
        sent: list[dict[str, Any]] = []
        alert_sink = AlertingSink(
            alerting, on_notes=lambda notes: sent.extend(json.loads(n.to_json()) for n in notes)
        )
        profiles = load_profiles(config)
        live = LivePage(
            lambda: profiles, lambda: alerting.status()["alerts"], cache_for=1.0, keep=1000
        )
        sinks = [
            MetricsSink(metrics.registry),
            alert_sink,
            TimelineSink(timeline, plan, position),
            live,
        ]
        processor = MonitoringProcessor(
            config,
            profiles,
            sinks,
            concept_metrics=build_concept_metrics(metrics.registry),
        )
        processor.warm_up()
        health = Health()
        streams = {s.name: s for s in config.streams}
        predictions, labels = _stream(plan, seed)

        def paced() -> Iterator[tuple[str, list[bytes]]]:
            # Predictions as they are made, labels ~label_delay events later, at ``rate``.
            step, label_pos = 1000, 0
            started = time.monotonic()
            for lo in range(0, len(predictions), step):
                batch = predictions[lo : lo + step]
                position[0] = lo + len(batch)
                yield streams["predictions"].topic, batch
                due = min(len(labels), max(0, position[0] - plan.label_delay))
                if due > label_pos:
                    yield streams["labels"].topic, labels[label_pos:due]
                    label_pos = due
                ahead = position[0] / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            yield streams["labels"].topic, labels[label_pos:]

        source: IterSource | None = None

        def make_source(on_assignment: Any) -> IterSource:
            nonlocal source
            topics = sorted({s.topic for s in config.streams})
            source = IterSource(paced(), topics, on_assignment)
            return source

        # The real daemon loop, over the paced events instead of Kafka.
        daemon = Daemon(
            config,
            make_source,
            processor,
            metrics,
            health,
            before_commit=[alert_sink.before_commit],
            on_turn=[alert_sink.on_turn],
        )
        http = HttpServer(
            HttpConfig(host="127.0.0.1", port=port),
            metrics.registry,
            health,
            daemon.status,
            page=live.html,
        ).start()
        alerting.start()
        timeline.say(f"serving http://127.0.0.1:{http.port}/ (live page), /metrics and /status")
        timeline.say(
            f"streaming {plan.total:,} events in windows of {plan.window:,}: covariate "
            f"shift at {plan.shift_start:,}-{plan.shift_end:,}, concept change from "
            f"{plan.concept_start:,}; labels ~{plan.label_delay:,} events late, shuffled"
        )
        try:
            assert source is not None
            daemon.run(until=lambda: source is not None and source.exhausted)
            alert_sink.before_commit()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and alerting.status().get("outbox", {}).get(
                "pending", 0
            ):
                alert_sink.on_turn()
                time.sleep(0.2)
            time.sleep(1.5)
            alert_sink.on_turn()
            time.sleep(0.5)
        finally:
            alerting.close(timeout=5.0)
            http.close()
            webhook.shutdown()
        _summary(timeline, plan)
        if report is not None:
            from driftd.report.write import write_report

            written = write_report(report, live.documents(), sent, profiles, source="demo")
            timeline.say(f"report written to {written}")
    return timeline


def _summary(t: Timeline, plan: Plan) -> None:
    t.say("summary")
    shifted = {f: at for f, at in t.first_data_drift.items() if at > plan.shift_start}
    if shifted:
        first = min(shifted.values())
        lag = (first - plan.shift_start) / plan.window
        t.say(
            f"  covariate shift injected at event {plan.shift_start:,}: detected at event "
            f"{first:,} ({lag:.1f} windows later) on {', '.join(sorted(shifted))}"
        )
    else:
        t.say("  covariate shift injected: NOT detected")
    if t.first_concept_drift is not None and t.first_concept_drift > plan.concept_start:
        lag = t.first_concept_drift - plan.concept_start
        t.say(
            f"  concept change injected at event {plan.concept_start:,}: detected when "
            f"predictions up to event {t.first_concept_drift:,} had been made ({lag:,} events "
            f"later, labels arriving ~{plan.label_delay:,} events late)"
        )
    else:
        t.say("  concept change injected: NOT detected")
    quiet = not t.data_drift_before_shift and not t.concept_before_change
    t.say(
        f"  false alarms on undrifted data: "
        f"{'none' if quiet else t.data_drift_before_shift + t.concept_before_change}"
    )
    t.say(
        "  (the model's error also rises during the covariate shift - the concept detectors "
        "see that too)"
    )
    t.say(f"  alerts delivered to the webhook: {len(t.alerts)}")


def detected_both(t: Timeline, plan: Plan | None = None) -> bool:
    """Whether the demo reported both injected drifts, after their injection points."""
    plan = plan or Plan()
    shifted = any(at > plan.shift_start for at in t.first_data_drift.values())
    concept = t.first_concept_drift is not None and t.first_concept_drift > plan.concept_start
    return bool(shifted and concept)


__all__ = ["Plan", "Timeline", "detected_both", "run_demo"]
