"""The request/response join: requests and responses logged apart give the verdicts of the same
inferences logged whole, whatever the batching, across a checkpoint restore, with every half
that cannot join counted (expired, evicted, duplicate, without id)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.config import parse_config
from driftd.decoding import StreamDecoder
from driftd.errors import ConfigError
from driftd.monitoring.pipeline import MonitoringProcessor, load_profiles
from driftd.records import Verdict
from driftd.reference.build import BuildOptions, build_profile
from driftd.reference.io import save_profile
from tests.jsonvalues import JSON_VALUES
from tests.processing import Collect, run_stream

N = 12_000
WINDOW = 1000


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("joining")
    rng = np.random.default_rng(1)
    rows = [
        f"{a:.5f},{c},{s:.5f}"
        for a, c, s in zip(
            rng.normal(0, 1, 20_000),
            rng.choice(["de", "fr", "it"], 20_000),
            rng.beta(2, 5, 20_000),
            strict=True,
        )
    ]
    csv = where / "train.csv"
    csv.write_text("a,c,score\n" + "\n".join(rows))
    return save_profile(build_profile(csv, BuildOptions(prediction="score")), where / "p.profile")


def _inferences(seed: int = 2) -> list[dict[str, Any]]:
    """N inferences; the second half drifted in feature a and in the score."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(N):
        drift = i >= N // 2
        out.append(
            {
                "id": f"req-{i}",
                "ts": 1_700_000_000_000 + i * 10,
                "x": {
                    "a": round(float(rng.normal(1.0 if drift else 0.0, 1)), 5),
                    "c": str(rng.choice(["de", "fr", "it"])),
                },
                "score": round(float(rng.beta(5, 2) if drift else rng.beta(2, 5)), 5),
            }
        )
    return out


def _split(inferences: list[dict[str, Any]], seed: int = 3) -> tuple[list[bytes], list[int]]:
    """Requests and responses on one topic, each response 1-40 records after its request;
    returns the records and the order in which the inferences complete."""
    rng = np.random.default_rng(seed)
    slots: list[tuple[float, int, dict[str, Any]]] = []
    for i, inf in enumerate(inferences):
        request = {"id": inf["id"], "ts": inf["ts"], "x": inf["x"]}
        response = {"id": inf["id"], "score": inf["score"]}
        slots.append((float(i), 0, request))
        slots.append((i + float(rng.integers(1, 40)) + 0.5, 1, response))
    slots.sort(key=lambda s: (s[0], s[1]))
    order = [int(s[2]["id"].split("-")[1]) for s in slots if s[1] == 1]
    return [json.dumps(s[2]).encode() for s in slots], order


def _config(profile: Path, joined: bool, extra_join: str = "") -> Any:
    monitor_stream = "inferences" if joined else "p"
    join = (
        f"""
joins:
  - {{name: inferences, streams: [p]{extra_join}}}
"""
        if joined
        else ""
    )
    return parse_config(
        f"""
kafka: {{bootstrap_servers: ["127.0.0.1:9"], group_id: g}}
streams:
  - name: p
    topic: t
    fields:
      id: id
      timestamp: ts
      features: {{a: x.a, c: x.c}}
      prediction: score
{join}
monitors:
  - name: m
    streams: [{monitor_stream}]
    reference: {profile}
    window: {{type: count, size: {WINDOW}}}
    prediction_drift: true
""",
        env={},
    )


def _key(verdicts: list[Verdict]) -> list[tuple[Any, ...]]:
    return [
        (v.feature, v.statistic, v.kind, v.window_index, round(v.value, 12), v.state)
        for v in verdicts
    ]


def test_split_requests_and_responses_give_the_verdicts_of_whole_inferences(
    profile: Path,
) -> None:
    inferences = _inferences()
    records, order = _split(inferences)
    whole = [json.dumps(inferences[i]).encode() for i in order]
    expected = _key(run_stream(_config(profile, joined=False), whole, batch=20_000))
    assert any(state.name == "DRIFT" for *_, state in expected)  # the drift is there to find
    assert {k[2] for k in expected} >= {"data", "prediction"}
    for batch in (1, 100, 20_000):
        got = _key(run_stream(_config(profile, joined=True), records, batch=batch))
        assert got == expected, f"batch {batch}"


def _processor(config: Any, clock: list[float]) -> tuple[MonitoringProcessor, Collect]:
    collect = Collect()
    processor = MonitoringProcessor(
        config, load_profiles(config), [collect], clock=lambda: clock[0]
    )
    return processor, collect


def test_halves_waiting_at_a_checkpoint_join_after_the_restore(profile: Path) -> None:
    inferences = _inferences()
    records, _ = _split(inferences)
    config = _config(profile, joined=True)
    stream = config.streams[0]
    decoder = StreamDecoder(stream)
    clock = [1000.0]
    straight, collect_straight = _processor(config, clock)
    straight.process(stream, decoder.decode(records))
    cut = len(records) // 2 + 7
    first, collect_first = _processor(config, clock)
    first.process(stream, decoder.decode(records[:cut]))
    meta, arrays = first.snapshot()
    waiting = first.joins["inferences"].pending
    assert waiting > 0  # requests whose responses come after the cut
    clock[0] += 3600.0  # stopped for an hour: longer than the TTL, which must not count it
    second, collect_second = _processor(config, clock)
    second.restore(json.loads(json.dumps(meta)), arrays)
    assert second.joins["inferences"].pending == waiting
    second.tick()
    assert second.joins["inferences"].counts.expired == 0
    second.process(stream, decoder.decode(records[cut:]))
    assert _key(collect_first.verdicts + collect_second.verdicts) == _key(collect_straight.verdicts)
    status = second.status()["joins"]["inferences"]
    assert status["joined"] == N and status["pending"] == 0
    assert second.events["inferences"] == N


def _decode(config: Any, docs: list[dict[str, Any]]) -> Any:
    return StreamDecoder(config.streams[0]).decode([json.dumps(d).encode() for d in docs])


def test_every_half_that_cannot_join_is_counted(profile: Path) -> None:
    config = _config(profile, joined=True, extra_join=", ttl: 60s, max_pending: 3")
    clock = [0.0]
    processor, _ = _processor(config, clock)
    join = processor.joins["inferences"]
    stream = config.streams[0]
    docs = [
        {"id": "a", "ts": 1_700_000_000_000, "x": {"a": 0.1, "c": "de"}},
        {"id": "a", "ts": 1_700_000_000_000, "x": {"a": 0.2, "c": "de"}},  # duplicate request
        {"ts": 1_700_000_000_000, "x": {"a": 0.3, "c": "fr"}},  # no id
        {"id": "w", "ts": 1_700_000_000_000, "x": {"a": 0.4, "c": "it"}, "score": 0.3},  # whole
        {"id": "e", "score": 0.5},  # a response first: waits for its request
        {"id": "x"},  # neither features nor prediction: not the join's
    ]
    processor.process(stream, _decode(config, docs))
    assert processor.events["inferences"] == 1  # the whole one passed straight through
    assert join.pending == 2
    counts = join.counts
    assert (counts.requests, counts.responses, counts.whole) == (3, 1, 1)
    assert (counts.duplicates, counts.without_id) == (1, 1)
    processor.process(stream, _decode(config, [{"id": "a", "score": 0.9}]))
    assert processor.events["inferences"] == 2 and counts.joined == 1
    clock[0] = 61.0
    processor.tick()
    assert counts.expired == 1 and join.pending == 0  # "e" never got its request
    more = [{"id": f"r{i}", "ts": 1_700_000_000_000, "x": {"a": 0.0, "c": "de"}} for i in range(5)]
    processor.process(stream, _decode(config, more))
    assert join.pending == 3 and counts.evicted == 2


def test_a_join_is_checked_at_start_up(profile: Path) -> None:
    base = """
kafka: {bootstrap_servers: ["127.0.0.1:9"], group_id: g}
streams:
  - name: req
    topic: t
    fields: {id: id, features: {a: x.a}}
  - name: resp
    topic: u
    fields: {prediction: score}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(base + "joins: [{name: j, streams: [req, resp, other]}]", env={})
    assert "joins[0].streams" in str(info.value)
    with pytest.raises(ConfigError, match=r"needs fields\.id"):
        parse_config(base + "joins: [{name: j, streams: [req, resp]}]", env={})
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(base + "joins: [{name: req, streams: [req]}]", env={})
    with pytest.raises(ConfigError, match=r"maps fields\.prediction"):
        parse_config(base + "joins: [{name: j, streams: [req]}]", env={})
    ok = parse_config(
        base.replace("fields: {prediction: score}", "fields: {id: id, prediction: score}")
        + f"""joins: [{{name: j, streams: [req, resp]}}]
monitors: [{{name: m, streams: [j], reference: {profile}, features: [a]}}]
""",
        env={},
    )
    joined = ok.all_streams()["j"]
    assert joined.fields.feature_paths() == {"a": "x.a"} and joined.fields.prediction == "score"


@settings(max_examples=60)
@given(
    values=st.lists(
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(min_value=-(2**80), max_value=2**80)
            | st.floats(allow_nan=True)
            | st.text(max_size=5)
            | st.binary(max_size=5)
            | st.decimals(allow_nan=False, places=2),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
            max_leaves=6,
        ),
        min_size=3,
        max_size=3,
    )
)
def test_any_waiting_half_survives_a_checkpoint(values: list[Any]) -> None:
    # Halves hold whatever a decoder produced (JSON, Avro, Protobuf): the checkpoint must be
    # written and read back whatever it is.
    from driftd.config.models import InferenceJoinConfig
    from driftd.decoding import DecodedBatch
    from driftd.monitoring.joining import RequestResponseJoin

    a, c, seg = values
    batch = DecodedBatch(
        index=np.arange(1),
        ids=["k"],
        timestamps=np.array([1.0]),
        models=[None],
        model_versions=[None],
        predictions=[None],
        labels=[None],
        features={"a": [a if a is not None else 1], "c": [c]},
        segments={"s": [seg]},
        rejected=[],
    )
    cfg = InferenceJoinConfig(name="j", streams=["p"])
    join = RequestResponseJoin(cfg, ["a", "c"], ["s"], clock=lambda: 5.0)
    join.add(batch)
    meta, data = join.snapshot()
    again = RequestResponseJoin(cfg, ["a", "c"], ["s"], clock=lambda: 9.0)
    again.restore(json.loads(json.dumps(meta)), data)
    assert again.pending == 1


@settings(max_examples=150)
@given(
    docs=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "id": JSON_VALUES | st.sampled_from(["a", "b", "c"]),
                "ts": JSON_VALUES,
                "x": st.fixed_dictionaries({}, optional={"a": JSON_VALUES, "c": JSON_VALUES})
                | JSON_VALUES,
                "score": JSON_VALUES,
            },
        ),
        max_size=12,
    )
)
def test_any_json_in_any_field_of_either_half_is_handled(profile: Path, docs: list[Any]) -> None:
    # The daemon's order: decode, drop what the side's monitors refuse, process; a merged
    # event a monitor cannot take is counted as refused. Never an exception.
    config = _config(profile, joined=True)
    processor, _ = _processor(config, [0.0])
    stream = config.streams[0]
    batch = _decode(config, docs)
    assert processor.check(stream, batch) == []  # no monitor reads the side stream itself
    processor.process(stream, batch)
    counts = processor.joins["inferences"].counts
    assert counts.joined + counts.whole - counts.refused == processor.events.get("inferences", 0)
    processor.snapshot()
