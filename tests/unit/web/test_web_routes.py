"""Who may call what: write endpoints, basic auth with bcrypt, bearer token files, probes."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from driftd.config.models import HttpConfig
from driftd.health import Health
from driftd.web.auth import Authenticator
from driftd.web.exchange import Request, Response
from driftd.web.routes import Routes

HASH = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
TOKEN = "tok-0123456789abcdef"


class FakeSilences:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []

    def __call__(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        self.calls.append((method, path, body))
        return 200, b'{"silenceID": "s1"}'


def _req(method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Request:
    return Request(method, path, "", headers or {}, b"{}", "10.0.0.9:5555", **kw)


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def _routes(**kw: Any) -> tuple[Routes, FakeSilences]:
    health = Health()
    health.set_condition("starting", True)
    silences = FakeSilences()
    return Routes(CollectorRegistry(), health, lambda: {"ok": 1}, silences=silences, **kw), (
        silences
    )


def _answer(routes: Routes, request: Request) -> Response:
    return routes.fast(request) or routes(request)


def test_without_auth_writes_are_refused_unless_opted_in() -> None:
    routes, silences = _routes()
    refused = _answer(routes, _req("POST", "/api/silences"))
    assert refused.status == 403
    assert b"http.auth" in refused.body and b"allow_unauthenticated_writes" in refused.body
    assert _answer(routes, _req("DELETE", "/api/silences/s1")).status == 403
    assert silences.calls == []
    # Reads stay open.
    assert _answer(routes, _req("GET", "/api/silences")).status == 200
    assert _answer(routes, _req("GET", "/status")).body == b'{"ok":1}'
    opted, silences = _routes(allow_unauthenticated_writes=True)
    assert _answer(opted, _req("POST", "/api/silences")).status == 200
    assert silences.calls == [("POST", "/api/silences", b"{}")]


def test_basic_auth_with_bcrypt(caplog: pytest.LogCaptureFixture) -> None:
    routes, silences = _routes(auth=Authenticator({"alice": HASH}))
    missing = _answer(routes, _req("POST", "/api/silences"))
    assert missing.status == 401
    assert dict(missing.headers)["WWW-Authenticate"] == 'Basic realm="driftd"'
    for headers in (
        _basic("alice", "wrong"),
        _basic("mallory", "s3cret-pass"),
        {"authorization": "Basic !!!not-base64"},
        {"authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"authorization": "Bearer " + TOKEN},
        {"authorization": "Digest whatever"},
    ):
        assert _answer(routes, _req("POST", "/api/silences", headers)).status == 401, headers
    assert silences.calls == []
    with caplog.at_level(logging.INFO, logger="driftd.web.routes"):
        ok = _answer(routes, _req("POST", "/api/silences", _basic("alice", "s3cret-pass")))
    assert ok.status == 200 and len(silences.calls) == 1
    assert "by alice from 10.0.0.9:5555" in caplog.text, "writes are audited"
    # Probes and reads need nothing.
    assert _answer(routes, _req("GET", "/healthz")).status == 200
    assert _answer(routes, _req("GET", "/metrics")).status == 200


def test_a_remembered_password_is_not_hashed_again() -> None:
    slow = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=12)).decode()
    auth = Authenticator({"bob": slow})
    started = time.perf_counter()
    assert auth.identify(_basic("bob", "pw")["authorization"]) == "bob"
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        assert auth.identify(_basic("bob", "pw")["authorization"]) == "bob"
    again = (time.perf_counter() - started) / 20
    assert again < first / 20, (first, again)
    assert auth.identify(_basic("bob", "px")["authorization"]) is None, "only successes are kept"


def test_bearer_tokens_from_files_follow_rotation(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    routes, _ = _routes(auth=Authenticator({}, [path]))
    bearer: Callable[[str], dict[str, str]] = lambda t: {"authorization": f"Bearer {t}"}  # noqa: E731
    refused = _answer(routes, _req("POST", "/api/silences", bearer("x" * 20)))
    assert refused.status == 401
    assert dict(refused.headers)["WWW-Authenticate"] == 'Bearer realm="driftd"'
    assert _answer(routes, _req("POST", "/api/silences", bearer(TOKEN))).status == 200
    path.write_text("rotated-token-9876543210")
    assert _answer(routes, _req("POST", "/api/silences", bearer(TOKEN))).status == 401
    assert (
        _answer(routes, _req("POST", "/api/silences", bearer("rotated-token-9876543210"))).status
        == 200
    )
    path.write_text("")  # emptied mid-rotation: nothing is accepted, not the empty token
    assert _answer(routes, _req("POST", "/api/silences", bearer(""))).status == 401
    path.unlink()
    assert _answer(routes, _req("POST", "/api/silences", bearer(TOKEN))).status == 401


def test_protect_reads_keeps_only_the_probes_open() -> None:
    routes, _ = _routes(auth=Authenticator({"alice": HASH}), protect_reads=True)
    for path in ("/metrics", "/status", "/api/silences", "/nope"):
        assert _answer(routes, _req("GET", path)).status == 401, path
    assert _answer(routes, _req("GET", "/healthz")).status == 200
    assert _answer(routes, _req("GET", "/readyz")).status == 200
    assert _answer(routes, _req("GET", "/metrics", _basic("alice", "s3cret-pass"))).status == 200


def test_a_verified_client_certificate_authenticates() -> None:
    routes, silences = _routes()
    assert _answer(routes, _req("POST", "/api/silences", client_cert="ops")).status == 200
    assert len(silences.calls) == 1


def test_unknown_paths_and_methods() -> None:
    routes, _ = _routes(allow_unauthenticated_writes=True)
    assert _answer(routes, _req("GET", "/nope")).status == 404
    assert _answer(routes, _req("POST", "/metrics")).status == 405
    assert _answer(routes, _req("OPTIONS", "/metrics")).status == 405
    status = _answer(routes, _req("GET", "/status"))
    assert json.loads(status.body) == {"ok": 1}


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ({"auth": {"basic_auth_users": {"alice": "plaintext"}}}, "bcrypt hash, not a password"),
        ({"auth": {}}, "basic_auth_users or bearer_token_files"),
        ({"auth": {"bearer_token_files": ["/nonexistent/token"]}}, "cannot read"),
        (
            {"auth": {"basic_auth_users": {"a": HASH}}, "allow_unauthenticated_writes": True},
            "no effect with http.auth",
        ),
        ({"tls": {"cert_file": "/x.pem"}}, "key_file"),
        ({"max_body_bytes": 10}, "greater than or equal to 1024"),
    ],
)
def test_http_config_is_checked_at_start_up(http: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpConfig.model_validate(http)


def test_a_short_token_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("short")
    with pytest.raises(ValidationError, match="at least 16 characters"):
        HttpConfig.model_validate({"auth": {"bearer_token_files": [str(tmp_path / "t")]}})


def test_the_live_page_and_its_script_are_read_endpoints() -> None:
    health = Health()
    routes = Routes(CollectorRegistry(), health, page=lambda: b"<html>live</html>")
    page = _answer(routes, _req("GET", "/"))
    assert (page.status, page.body, page.content_type) == (
        200,
        b"<html>live</html>",
        "text/html; charset=utf-8",
    )
    script = _answer(routes, _req("GET", "/assets/plotly.min.js"))
    assert script.status == 200 and len(script.body) > 1_000_000
    assert dict(script.headers)["Cache-Control"].startswith("public")
    guarded = Routes(
        CollectorRegistry(),
        health,
        page=lambda: b"x",
        auth=Authenticator({"alice": HASH}),
        protect_reads=True,
    )
    assert _answer(guarded, _req("GET", "/")).status == 401
    assert _answer(Routes(CollectorRegistry(), health), _req("GET", "/")).status == 404
