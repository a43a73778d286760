"""Who is calling: HTTP basic auth against bcrypt hashes, or bearer tokens kept in files.

bcrypt is slow on purpose (tens of milliseconds per check at cost 10), which is what makes a
stolen hash hard to reverse and online guessing slow; a client that sends the right password on
every request (Prometheus, a script) is not charged that each time: a success is remembered
under a keyed hash of the credentials, never the password itself. An unknown user is checked
against a dummy hash so that the answer takes as long as for a known one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import bcrypt

log = logging.getLogger(__name__)

_REMEMBERED = 256
# The hash of a password no one knows, at the usual cost: checked when the user is unknown.
_DUMMY = b"$2b$10$D4GoqUeFUUqGzFcw5FHH2ebCAcJ7QyoWxKVC5uhsMN1XWgQY92Nd6"


class Authenticator:
    """Checks an ``Authorization`` header; returns who it names, or None."""

    def __init__(self, basic_users: Mapping[str, str], token_files: Sequence[Path] = ()) -> None:
        self._users = {user: hashed.encode() for user, hashed in basic_users.items()}
        self._tokens = _TokenFiles(token_files)
        self._key = os.urandom(32)
        self._lock = threading.Lock()
        self._good: OrderedDict[bytes, str] = OrderedDict()

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value for a 401."""
        return 'Basic realm="driftd"' if self._users else 'Bearer realm="driftd"'

    def identify(self, authorization: str | None) -> str | None:
        """The principal (``user``, or ``token <file name>``) the header proves, else None."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and credentials:
            return self._tokens.match(credentials)
        if scheme == "basic" and self._users:
            return self._basic(credentials)
        return None

    def _basic(self, credentials: str) -> str | None:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None
        key = hmac.new(self._key, decoded.encode(), hashlib.sha256).digest()
        with self._lock:
            if key in self._good:
                self._good.move_to_end(key)
                return self._good[key]
        hashed = self._users.get(user)
        ok = bcrypt.checkpw(password.encode(), hashed if hashed is not None else _DUMMY)
        if not ok or hashed is None:
            return None
        with self._lock:
            self._good[key] = user
            while len(self._good) > _REMEMBERED:
                self._good.popitem(last=False)
        return user


class _TokenFiles:
    """Bearer tokens, one per file, re-read when a file changes (rotation without a restart)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = list(paths)
        self._lock = threading.Lock()
        self._seen: dict[Path, tuple[tuple[int, int], bytes | None]] = {}

    def match(self, presented: str) -> str | None:
        given = presented.encode()
        found = None
        for path in self._paths:
            token = self._token(path)
            # Compare against every token, so the time taken does not tell which one matched.
            if token is not None and hmac.compare_digest(given, token) and found is None:
                found = f"token {path.name}"
        return found

    def _token(self, path: Path) -> bytes | None:
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            seen = self._seen.get(path)
            if seen is not None and seen[0] == stamp:
                return seen[1]
            try:
                text = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                log.error("http.auth: cannot read bearer token file %s: %s", path, exc)
                text = ""
            # A file emptied mid-rotation must not turn into "the empty token is accepted".
            token = text.encode() if len(text) >= 16 else None
            self._seen[path] = (stamp, token)
            return token
