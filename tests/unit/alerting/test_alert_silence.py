"""Silences: from the config, through the runtime API, persisted across restarts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd.alerting.alert import Alert
from driftd.alerting.config import RouteConfig, SilenceConfig
from driftd.alerting.dispatcher import Dispatcher, ReceiverInfo
from driftd.alerting.inhibit import Inhibitor
from driftd.alerting.outbox import Outbox
from driftd.alerting.routing import Route
from driftd.alerting.silence import Silences
from driftd.alerting.silence_api import handle_silences
from tests.fakes.clock import FakeClock

T0 = 1_700_000_000.0
MakeAlert = Callable[..., Alert]


def _call(
    silences: Silences, clock: FakeClock, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    status, answer = handle_silences(silences, clock, method, path, raw)
    return status, json.loads(answer)


def test_config_silence_mutes_within_its_window(make_alert: MakeAlert) -> None:
    config = SilenceConfig(
        matchers=['monitor="fraud"', 'feature=~"zip.*"'],
        starts_at=datetime.fromtimestamp(T0, UTC),
        ends_at=datetime.fromtimestamp(T0 + 3600, UTC),
    )
    muted = Silences([config], None).muter(T0 + 10)
    assert muted(make_alert(monitor="fraud", feature="zip_code"))
    assert not muted(make_alert(monitor="fraud", feature="age"))
    assert not muted(make_alert(monitor="churn", feature="zip_code"))
    assert not Silences([config], None).muter(T0 + 3600)(
        make_alert(monitor="fraud", feature="zip_code")
    )
    assert not Silences([config], None).muter(T0 - 1)(
        make_alert(monitor="fraud", feature="zip_code")
    )


def test_api_adds_lists_and_deletes_silences(tmp_path: Path, clock: FakeClock) -> None:
    silences = Silences([SilenceConfig(id="cfg", matchers=["monitor=x"])], tmp_path / "s.json")
    body = {
        "matchers": ['feature="age"', {"name": "monitor", "value": "fr.*", "isRegex": True}],
        "endsAt": "2023-11-15T00:00:00Z",
        "createdBy": "alice",
        "comment": "retraining in progress",
    }
    status, answer = _call(silences, clock, "POST", "/api/silences", body)
    assert status == 200
    sid = answer["silenceID"]
    status, listed = _call(silences, clock, "GET", "/api/silences")
    assert status == 200
    assert [s["id"] for s in listed] == ["cfg", sid]
    mine = listed[1]
    assert mine["status"] == {"state": "active"}
    assert mine["createdBy"] == "alice"
    assert mine["startsAt"] == "2023-11-14T22:13:20.000Z"
    assert mine["matchers"][1] == {
        "name": "monitor",
        "value": "fr.*",
        "isRegex": True,
        "isEqual": True,
    }
    assert _call(silences, clock, "GET", f"/api/silences/{sid}")[1]["id"] == sid
    assert _call(silences, clock, "DELETE", f"/api/silences/{sid}") == (200, {})
    assert _call(silences, clock, "GET", f"/api/silences/{sid}")[0] == 404
    assert _call(silences, clock, "DELETE", f"/api/silences/{sid}")[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/api/silences", {"endsAt": "2030-01-01T00:00:00Z"}, 400, "matchers"),
        (
            "POST",
            "/api/silences",
            {"matchers": ["a=b"], "createdBy": "x", "comment": "y"},
            400,
            "endsAt",
        ),
        (
            "POST",
            "/api/silences",
            {"matchers": ["a=b"], "duration": 60, "comment": "y"},
            400,
            "createdBy",
        ),
        (
            "POST",
            "/api/silences",
            {"matchers": ["a b"], "duration": 60, "createdBy": "x", "comment": "y"},
            400,
            "invalid matcher",
        ),
        (
            "POST",
            "/api/silences",
            {
                "matchers": ["a=b"],
                "startsAt": T0,
                "endsAt": T0 - 1,
                "createdBy": "x",
                "comment": "y",
            },
            400,
            "after",
        ),
        ("POST", "/api/silences", [1, 2], 400, "object"),
        ("DELETE", "/api/silences/cfg", None, 409, "config"),
        ("PUT", "/api/silences", None, 405, "not allowed"),
        ("GET", "/api/alerts", None, 404, "not found"),
    ],
)
def test_api_errors(
    clock: FakeClock, method: str, path: str, body: Any, status: int, message: str
) -> None:
    silences = Silences([SilenceConfig(id="cfg", matchers=["monitor=x"])], None)
    got, answer = _call(silences, clock, method, path, body)
    assert got == status
    assert message in answer["error"]


def test_runtime_silences_survive_a_restart(
    tmp_path: Path, clock: FakeClock, make_alert: MakeAlert
) -> None:
    path = tmp_path / "silences.json"
    first = Silences([], path)
    body = {"matchers": ["monitor=fraud"], "duration": 3600, "createdBy": "a", "comment": "b"}
    _, answer = _call(first, clock, "POST", "/api/silences", body)
    second = Silences([], path)
    [silence] = second.all()
    assert silence.id == answer["silenceID"]
    assert silence.ends_at == T0 + 3600
    assert second.muter(T0 + 1)(make_alert(monitor="fraud"))
    # Replacing by id (an edit) keeps one silence.
    _call(second, clock, "POST", "/api/silences", {**body, "id": silence.id, "duration": 60})
    [edited] = Silences([], path).all()
    assert (edited.id, edited.ends_at) == (silence.id, T0 + 60)
    # Long-expired silences are dropped, from memory and from the file.
    second.expire_old(T0 + 60 + 121 * 3600)
    assert Silences([], path).all() == []


def test_silenced_alert_is_held_back_until_the_silence_ends(
    tmp_path: Path, make_alert: MakeAlert
) -> None:
    silences = Silences([], tmp_path / "s.json")
    clock = FakeClock(T0)
    _call(
        silences,
        clock,
        "POST",
        "/api/silences",
        {"matchers": ['feature="age"'], "duration": 1000, "createdBy": "a", "comment": "b"},
    )
    d = Dispatcher(
        Route.build(
            RouteConfig(receiver="r", group_by=["monitor"], group_wait=30, group_interval=300)
        ),
        Inhibitor([]),
        silences,
        Outbox(tmp_path / "o.sqlite3"),
        receivers={"r": ReceiverInfo("webhook", True)},
    )
    d.add([make_alert(monitor="m", feature="age"), make_alert(monitor="m", feature="inc")])
    d.tick(T0)
    [note] = d.tick(T0 + 30)
    assert [a.label_map["feature"] for a in note.alerts] == ["inc"]
    assert d.tick(T0 + 330) == []
    assert d.tick(T0 + 630) == []
    # The silence ended at T0 + 1000: the next group tick announces "age".
    [note] = d.tick(T0 + 1230)
    assert [a.label_map["feature"] for a in note.alerts] == ["age", "inc"]


@pytest.mark.parametrize(
    "times",
    [
        {"endsAt": 1e300},
        {"endsAt": "+275760-09-13T00:00:00Z"},
        {"startsAt": -1e20, "endsAt": T0},
        {"startsAt": T0, "duration": 1e300},
        {"startsAt": T0, "duration": float("inf")},
        {"startsAt": T0, "duration": True},
        {"endsAt": float("nan")},
    ],
)
def test_out_of_range_times_are_refused_and_the_api_keeps_answering(
    clock: FakeClock, tmp_path: Path, times: dict[str, Any]
) -> None:
    silences = Silences([], tmp_path / "s.json")
    body = {"matchers": ["a=b"], "createdBy": "x", "comment": "y", **times}
    raw = json.dumps(body, allow_nan=True).encode()
    status, answer = handle_silences(silences, clock, "POST", "/api/silences", raw)
    assert status == 400, answer
    assert silences.all() == []
    assert _call(silences, clock, "GET", "/api/silences") == (200, [])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        key: _JSON | st.just(good)
        for key, good in {
            "matchers": ["a=b"],
            "startsAt": T0,
            "endsAt": T0 + 60,
            "duration": 60,
            "createdBy": "x",
            "comment": "y",
            "id": "s1",
        }.items()
    },
)


@settings(max_examples=300, deadline=None)
@given(body=_FIELDS | _JSON)
def test_any_json_body_gets_an_answer_never_an_exception(body: Any) -> None:
    silences = Silences([], None)
    clock = FakeClock(T0)
    raw = json.dumps(body, allow_nan=True).encode()
    status, answer = handle_silences(silences, clock, "POST", "/api/silences", raw)
    assert status in {200, 400}, (status, answer)
    listed = _call(silences, clock, "GET", "/api/silences")
    assert listed[0] == 200 and len(listed[1]) == (status == 200)
