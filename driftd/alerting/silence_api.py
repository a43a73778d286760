"""The silences HTTP API, as a plain function of (method, path, body) the daemon can mount.

::

    GET    /api/silences         every silence, with its state (pending, active, expired)
    GET    /api/silences/{id}    one silence
    POST   /api/silences         {"matchers": ["monitor=fraud"], "endsAt": "...", "createdBy":
                                  "...", "comment": "..."} (or "duration": seconds) → {"silenceID"}
    DELETE /api/silences/{id}    remove a runtime silence (config ones answer 409)

Matchers are strings (``feature=~"age|income"``) or Alertmanager objects
(``{"name", "value", "isRegex", "isEqual"}``); times are RFC 3339 or epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from driftd.alerting.silence import Silence, SilenceError, Silences

PREFIX = "/api/silences"


def handle_silences(
    silences: Silences, now: Callable[[], float], method: str, path: str, body: bytes
) -> tuple[int, bytes]:
    """Answer one request; returns (HTTP status, JSON body)."""
    path = path.split("?", 1)[0].rstrip("/")
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return _reply(404, {"error": f"not found: {path}"})
    sid = path[len(PREFIX) + 1 :] or None
    try:
        if method == "GET" and sid is None:
            t = now()
            return _reply(200, [s.to_dict(t) for s in silences.all()])
        if method == "GET":
            found = silences.get(sid) if sid else None
            if found is None:
                return _reply(404, {"error": f"no silence {sid}"})
            return _reply(200, found.to_dict(now()))
        if method == "POST" and sid is None:
            data = json.loads(body or b"null")
            if not isinstance(data, dict):
                return _reply(400, {"error": "the body must be a JSON object"})
            existing = data.get("id")
            new = not (isinstance(existing, str) and silences.get(existing) is not None)
            silence = Silence.from_dict(data, now=now(), new_id=new)
            return _reply(200, {"silenceID": silences.add(silence)})
        if method == "DELETE" and sid is not None:
            silences.remove(sid)
            return _reply(200, {})
    except (ValueError, UnicodeDecodeError) as exc:
        return _reply(400, {"error": str(exc)})
    except RecursionError:
        return _reply(400, {"error": "the body nests too deeply"})
    except SilenceError as exc:
        return _reply(exc.status, {"error": str(exc)})
    return _reply(405, {"error": f"{method} is not allowed on {path}"})


def _reply(status: int, payload: Any) -> tuple[int, bytes]:
    return status, json.dumps(payload).encode()
