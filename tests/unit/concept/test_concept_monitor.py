"""ConceptMonitor end to end: a concept flip, restarts, metrics, status and bad state files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from driftd.concept import ConceptConfig, ConceptMonitor, ConceptStateError, build_concept_metrics
from driftd.errors import ConfigError
from driftd.records import State, Verdict

CHANGE = 3000  # index (and event time) of the first prediction under the flipped concept
N = 6000


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def flip_config(**performance: object) -> ConceptConfig:
    return ConceptConfig.model_validate(
        {
            "detectors": [
                {"type": "adwin"},
                {"type": "page_hinkley", "threshold": 30.0},
                {"type": "hddm_a"},
                {"type": "hddm_w"},
            ],
            "performance": {
                "window": 500,
                "metrics": ["accuracy", "f1", "auc"],
                "max_drop": {"accuracy": {"absolute": 0.1}, "f1": {"relative": 0.2}},
                **performance,
            },
        }
    )


REFERENCE = {"accuracy": 0.95, "f1": 0.95, "auc": 0.99}


def flip_stream(seed: int):
    """Batches of (ids, predictions, scores, times) and of delayed, shuffled labels.

    The model predicts ``x > 0``; labels follow ``x > 0`` (5% noise) and from CHANGE on
    ``x <= 0``. Each batch's labels arrive five batches later, shuffled, some ids as ints.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N)
    truth = np.where(np.arange(N) < CHANGE, x > 0, x <= 0) ^ (rng.random(N) < 0.05)
    pred = (x > 0).astype(int)
    score = 1 / (1 + np.exp(-3 * x))
    ids: list[object] = [f"p{i}" if i % 2 else i for i in range(N)]
    batches = []
    step = 200
    for s in range(0, N + 6 * step, step):
        p = slice(s, min(s + step, N))
        lo = s - 5 * step
        label_idx = rng.permutation(np.arange(max(lo, 0), max(min(lo + step, N), 0)))
        batches.append(
            (
                (ids[p], pred[p], score[p], np.arange(N, dtype=float)[p]),
                (
                    [str(ids[i]) for i in label_idx],
                    truth[label_idx].astype(int).tolist(),
                    label_idx + 3600.0,
                ),
            )
        )
    return batches


def run(monitor: ConceptMonitor, clock: Clock, batches) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for preds, labels in batches:
        clock.now += 10.0
        verdicts += monitor.observe_predictions(*preds)
        verdicts += monitor.observe_labels(*labels)
        monitor.tick()
    return verdicts


@pytest.mark.parametrize("seed", [0, 1])
def test_a_concept_flip_is_found_after_the_change_and_not_before(seed: int) -> None:
    clock = Clock()
    monitor = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=clock)
    verdicts = run(monitor, clock, flip_stream(seed))
    assert all(v.kind == "concept" and v.monitor == "m" for v in verdicts)
    drifts = [v for v in verdicts if v.state is State.DRIFT]
    # Nothing in drift is made of pairs from before the change only.
    assert all(v.window_end >= CHANGE for v in drifts), [v for v in drifts if v.window_end < CHANGE]
    for name in ("adwin", "page_hinkley", "hddm_a", "hddm_w"):
        first = next(v for v in drifts if v.statistic == name)
        assert first.window_end < CHANGE + 400, (name, first)  # found within 400 pairs
        assert first.value > first.limit or np.isnan(first.limit)
    by_window = {(v.statistic, v.window_index): v for v in verdicts}
    for i in range(CHANGE // 500):  # windows before the change: accurate, and judged so
        assert by_window["accuracy", i].state is State.OK
        assert by_window["f1", i].state is State.OK
        assert by_window["adwin", i].state is State.OK
    for i in range(CHANGE // 500 + 1, N // 500):  # after it: the accuracy collapsed
        assert by_window["accuracy", i].state is State.DRIFT
        assert by_window["accuracy", i].value < 0.2
    assert monitor.join.counts.matched == N and monitor.join.pending == 0


def test_save_and_restore_in_the_middle_gives_the_same_verdicts(tmp_path) -> None:
    batches = flip_stream(3)
    clock = Clock()
    monitor = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=clock)
    straight = run(monitor, clock, batches)

    clock = Clock()
    first = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=clock)
    half = 14  # mid-stream, with a window open and labels pending
    got = run(first, clock, batches[:half])
    assert first.join.pending > 0 and first.window.filled > 0
    first.save(tmp_path)
    second = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=clock)
    assert second.restore(tmp_path) is True
    got += run(second, clock, batches[half:])
    # Another monitor's windows are another run of windows (epoch); the restored one is first's.
    assert {v.window_epoch for v in got} == {first.epoch} == {second.epoch}
    same = [repr(dataclasses.replace(v, window_epoch="")) for v in got]
    assert same == [repr(dataclasses.replace(v, window_epoch="")) for v in straight]
    assert second.status() == run_status(batches)


def run_status(batches) -> dict:
    clock = Clock()
    monitor = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=clock)
    run(monitor, clock, batches)
    return monitor.status()


def test_metrics_are_exported_on_the_injected_registry() -> None:
    registry = CollectorRegistry()
    metrics = build_concept_metrics(registry)
    clock = Clock()
    config = ConceptConfig.model_validate(
        {"join": {"ttl": 100.0, "sweep_interval": 1.0}, "performance": {"window": 10}}
    )
    monitor = ConceptMonitor("fraud", config, metrics=metrics, clock=clock)
    monitor.observe_predictions([f"a{i}" for i in range(30)], [1] * 30, [0.9] * 30, np.zeros(30))
    monitor.observe_labels([f"a{i}" for i in range(20)], [1, 0] * 10, np.full(20, 7200.0))
    monitor.observe_labels(["nobody"], [1], np.zeros(1))
    clock.now = 500.0
    monitor.tick()

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"monitor": "fraud", **labels})

    assert sample("driftd_label_join_matched_total") == 20
    assert sample("driftd_label_join_expired_total") == 10
    assert sample("driftd_label_join_evicted_total") == 0
    assert sample("driftd_label_join_unmatched_labels_total") == 1
    assert sample("driftd_label_join_pending") == 0
    assert sample("driftd_label_join_pending_bytes") == monitor.join.nbytes > 0
    assert sample("driftd_label_join_rate_ratio") == pytest.approx(20 / 30)
    assert sample("driftd_label_delay_seconds_bucket", le="3600.0") == 0
    assert sample("driftd_label_delay_seconds_bucket", le="7200.0") == 20
    assert sample("driftd_label_delay_seconds_count") == 20
    assert sample("driftd_label_delay_seconds_sum") == 20 * 7200.0
    assert sample("driftd_performance", metric="accuracy") == 0.5
    assert sample("driftd_performance", metric="precision") == 0.5
    assert sample("driftd_performance", metric="recall") == 1.0
    # A second monitor shares the metrics under its own label.
    other = ConceptMonitor("churn", config, metrics=metrics, clock=clock)
    other.observe_predictions(["x"], [0], None, None)
    assert registry.get_sample_value("driftd_label_join_pending", {"monitor": "churn"}) == 1


def test_status_is_plain_json() -> None:
    monitor = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=Clock())
    run(monitor, Clock(), flip_stream(0)[:8])
    status = json.loads(json.dumps(monitor.status(), allow_nan=False))
    assert status["join"]["matched"] == 600
    assert status["performance"]["windows_closed"] == 1
    assert set(status["detectors"]) == {"adwin", "page_hinkley", "hddm_a", "hddm_w"}


def test_string_classes_and_positive_class() -> None:
    config = ConceptConfig.model_validate(
        {
            "positive_class": "fraud",
            "detectors": [],
            "performance": {"window": 10, "metrics": ["precision", "recall"]},
        }
    )
    monitor = ConceptMonitor("m", config, clock=Clock())
    preds = ["fraud"] * 4 + ["ok"] * 6
    labels = ["fraud", "fraud", "ok", "ok", "fraud", "ok", "ok", "ok", "ok", "ok"]
    monitor.observe_predictions(list(range(10)), preds, None, np.arange(10.0))
    monitor.observe_labels([str(i) for i in range(10)], labels, np.arange(10.0))
    last = monitor.status()["performance"]["last"]
    assert last == {"precision": 0.5, "recall": pytest.approx(2 / 3)}


def test_regression_task() -> None:
    config = ConceptConfig.model_validate(
        {
            "task": "regression",
            "detectors": [{"type": "page_hinkley"}],
            "performance": {"window": 10, "max_drop": {"mae": {"absolute": 0.5}}},
        }
    )
    monitor = ConceptMonitor("m", config, reference={"mae": 1.0}, clock=Clock())
    monitor.observe_predictions(list(range(12)), np.arange(12.0), None, np.zeros(12))
    verdicts = monitor.observe_labels(list(range(12)), np.arange(12.0) + 2.0, np.zeros(12))
    mae = next(v for v in verdicts if v.statistic == "mae")
    assert (mae.value, mae.limit, mae.state) == (2.0, 1.5, State.DRIFT)
    assert monitor.status()["performance"]["last"]["rmse"] == 2.0


def test_missing_state_corrupt_state_and_state_of_another_monitor(tmp_path) -> None:
    monitor = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=Clock())
    assert monitor.restore(tmp_path) is False
    run(monitor, Clock(), flip_stream(0)[:8])
    path = monitor.save(tmp_path)
    other = ConceptMonitor("other", flip_config(), reference=REFERENCE, clock=Clock())
    path.rename(other.state_path(tmp_path))
    with pytest.raises(ConceptStateError, match="of monitor 'm'"):
        other.restore(tmp_path)
    data = bytearray(other.state_path(tmp_path).read_bytes())
    data[-40] ^= 1
    other.state_path(tmp_path).write_bytes(bytes(data))
    with pytest.raises(ConceptStateError, match="checksum"):
        other.restore(tmp_path)


def test_a_reconfigured_detector_starts_afresh(tmp_path, caplog) -> None:
    clock = Clock()
    monitor = ConceptMonitor("m", flip_config(), reference=REFERENCE, clock=clock)
    run(monitor, clock, flip_stream(0)[:25])
    monitor.save(tmp_path)
    changed = flip_config().model_copy(
        update={"detectors": (*flip_config().detectors[:1], ADAPTER_PH)}
    )
    restored = ConceptMonitor("m", changed, reference=REFERENCE, clock=clock)
    assert restored.restore(tmp_path)
    assert "page_hinkley starts afresh" in caplog.text
    assert restored.detectors[0].detections == monitor.detectors[0].detections > 0
    assert restored.detectors[1].detections == 0
    assert restored.join.pending == monitor.join.pending


def test_max_drop_needs_a_reference() -> None:
    with pytest.raises(ConfigError, match="accuracy"):
        ConceptMonitor("m", flip_config(), reference={"f1": 0.9})


ADAPTER_PH = ConceptConfig.model_validate(
    {"detectors": [{"type": "page_hinkley", "threshold": 99.0}]}
).detectors[0]


def test_state_saved_under_another_positive_class_is_refused(tmp_path) -> None:
    saved = ConceptMonitor("m", ConceptConfig(positive_class=1), clock=Clock())
    saved.observe_predictions(["x"], [1])
    saved.save(tmp_path)
    other = ConceptMonitor("m", ConceptConfig(positive_class="fraud"), clock=Clock())
    with pytest.raises(ConceptStateError, match="positive class"):
        other.restore(tmp_path)
