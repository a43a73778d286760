"""The durable outbox: every notification is written here before anything is sent.

A SQLite database in WAL mode with ``synchronous=FULL`` (a committed entry survives a crash and
a power cut). Entries carry a sequence number per key (receiver and group key); the worker only
ever takes the oldest pending entry of each key, so a resolve never overtakes its trigger while
other keys proceed. Marking an entry done is one committed UPDATE, so a delivered entry is never
sent again. The one window for a duplicate: a crash after the receiver accepted an entry and
before it was marked done resends that entry once on restart (at-least-once). PagerDuty's
``dedup_key`` and Slack's ``chat.update`` of the remembered message make that resend harmless.

A key/value table in the same file holds the alerting state snapshot (written in the same
transaction as the entries it produced) and receiver state such as Slack message timestamps.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    receiver TEXT NOT NULL,
    integration TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    finished_at REAL,
    UNIQUE (key, seq)
);
CREATE INDEX IF NOT EXISTS entries_pending ON entries (status, key, seq);
CREATE TABLE IF NOT EXISTS key_seq (key TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True, slots=True)
class Item:
    """A notification to enqueue: ordering key, receiver, its integration and the payload."""

    key: str
    receiver: str
    integration: str
    payload: str


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored notification."""

    id: int
    key: str
    seq: int
    receiver: str
    integration: str
    payload: str
    created_at: float
    attempts: int
    next_attempt_at: float
    status: str = PENDING
    last_error: str = ""


class Outbox:
    """The outbox file; one connection shared by the enqueueing and the delivering thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        # Owner only: alert state and receiver references (SQLite gives its -wal and -shm
        # files the database file's permissions).
        path.chmod(0o600)

    def commit(self, items: Sequence[Item], state: Mapping[str, str], now: float) -> None:
        """Append ``items`` and write ``state`` key/values, all in one transaction."""
        if not items and not state:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for item in items:
                    # A counter table rather than MAX(seq): pruning old entries must not
                    # let a key's sequence start again.
                    self._db.execute(
                        "INSERT INTO key_seq (key, last) VALUES (?, 1) "
                        "ON CONFLICT (key) DO UPDATE SET last = last + 1",
                        (item.key,),
                    )
                    row = self._db.execute(
                        "SELECT last FROM key_seq WHERE key = ?", (item.key,)
                    ).fetchone()
                    self._db.execute(
                        "INSERT INTO entries (key, seq, receiver, integration, payload, "
                        "created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (item.key, row[0], item.receiver, item.integration, item.payload, now, now),
                    )
                self._db.executemany(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    list(state.items()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on some errors (SQLITE_FULL): a second
                # ROLLBACK would raise and hide the error that matters.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def due(self, now: float, limit: int = 100) -> list[Entry]:
        """The head (oldest pending entry) of every key whose next attempt is due."""
        with self._lock:
            rows = self._db.execute(
                "SELECT e.id, e.key, e.seq, e.receiver, e.integration, e.payload, e.created_at, "
                "e.attempts, e.next_attempt_at FROM entries e JOIN (SELECT key, MIN(seq) AS seq "
                "FROM entries WHERE status = 'pending' GROUP BY key) h "
                "ON e.key = h.key AND e.seq = h.seq WHERE e.next_attempt_at <= ? "
                "ORDER BY e.next_attempt_at, e.id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [Entry(*row) for row in rows]

    def next_attempt_at(self) -> float | None:
        """When the earliest pending head becomes due (None when nothing is pending)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(e.next_attempt_at) FROM entries e JOIN (SELECT key, MIN(seq) AS seq "
                "FROM entries WHERE status = 'pending' GROUP BY key) h "
                "ON e.key = h.key AND e.seq = h.seq"
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def mark_done(self, entry_id: int, now: float) -> None:
        """The receiver accepted the entry: never send it again."""
        self._finish(entry_id, DONE, "", now)

    def mark_failed(self, entry_id: int, error: str, now: float) -> None:
        """Give up on the entry (rejected by the receiver, or too old); later ones proceed."""
        self._finish(entry_id, FAILED, error, now)

    def retry_at(self, entry_id: int, when: float, error: str) -> None:
        """Count a failed attempt and schedule the next one."""
        with self._lock:
            self._db.execute(
                "UPDATE entries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?",
                (when, error[:500], entry_id),
            )

    def _finish(self, entry_id: int, status: str, error: str, now: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE entries SET status = ?, attempts = attempts + 1, last_error = ?, "
                "finished_at = ? WHERE id = ?",
                (status, error[:500], now, entry_id),
            )

    def entries(self, key: str | None = None) -> list[Entry]:
        """Every stored entry (of one key), in order: for status pages and tests."""
        query = (
            "SELECT id, key, seq, receiver, integration, payload, created_at, attempts, "
            "next_attempt_at, status, last_error FROM entries"
        )
        args: tuple[str, ...] = ()
        if key is not None:
            query, args = query + " WHERE key = ?", (key,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY key, seq", args).fetchall()
        return [Entry(*row) for row in rows]

    def troubles(self, limit: int = 10) -> list[dict[str, object]]:
        """The newest entries that were given up on, and pending ones that already failed an
        attempt (being retried), newest first: what ``/status`` shows of delivery problems."""
        with self._lock:
            rows = self._db.execute(
                "SELECT receiver, integration, status, attempts, last_error, "
                "COALESCE(finished_at, next_attempt_at) FROM entries "
                "WHERE status = 'failed' OR (status = 'pending' AND attempts > 0) "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "receiver": r[0],
                "integration": r[1],
                "state": "gave_up" if r[2] == FAILED else "retrying",
                "attempts": int(r[3]),
                "error": r[4] or "",
                "at": float(r[5]) if r[5] is not None else None,
            }
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        """Number of entries per status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM entries GROUP BY status")
            found = dict(rows.fetchall())
        return {s: int(found.get(s, 0)) for s in (PENDING, DONE, FAILED)}

    def prune(self, older_than: float) -> int:
        """Delete finished entries that finished before ``older_than``; returns how many."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM entries WHERE status != 'pending' AND finished_at < ?", (older_than,)
            )
        return cur.rowcount

    def get(self, key: str) -> str | None:
        """A value of the key/value table."""
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str | None) -> None:
        """Set (or, with None, delete) a value of the key/value table."""
        with self._lock:
            if value is None:
                self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
