"""SQLite ledger: the local default. WAL with synchronous=FULL, so a committed record survives
a crash of the process (and of the machine).

Recording goes through one writer thread that commits whatever is waiting in one transaction
(group commit): under 64 concurrent webhooks that is one fsync per batch instead of one per
request, while each caller still returns only after its own row is durable.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from shared.events import Event, EventKind
from shared.ledger import (
    CLAIMABLE,
    EventRecord,
    Ledger,
    LedgerError,
    Recorded,
    Status,
    append_history,
    history_entry,
    initial_status,
    lease_lost,
    record_from_row,
    ts,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    model       TEXT,
    version     TEXT,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    deliveries  INTEGER NOT NULL DEFAULT 1,
    received_at REAL NOT NULL,
    updated_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    due_at      REAL,
    worker      TEXT,
    lease_token TEXT,
    outcome     TEXT,
    last_error  TEXT,
    event       TEXT NOT NULL,
    history     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS events_due ON events(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_received ON events(received_at);
"""

_BATCH = 256


class SqliteLedger(Ledger):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.executescript(SCHEMA)
        self._pending: queue.Queue[tuple[Event, float, Future[Recorded]] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="ledger-writer", daemon=True)
        self._writer.start()
        self._closed = False

    # --- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # --- recording (group commit) ------------------------------------------------------

    def record(self, event: Event, *, now: float) -> Recorded:
        if self._closed:
            raise LedgerError("ledger is closed")
        done: Future[Recorded] = Future()
        self._pending.put((event, now, done))
        return done.result()

    def _write_loop(self) -> None:
        conn = self._connect()
        while True:
            first = self._pending.get()
            if first is None:
                conn.close()
                return
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._pending.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                conn.execute("BEGIN IMMEDIATE")
                results = [self._insert(conn, event, now) for event, now, _ in batch]
                conn.execute("COMMIT")
            except Exception as exc:  # every caller learns its row was not written
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for _, _, fut in batch:
                    fut.set_exception(exc)
                continue
            for (_, _, fut), result in zip(batch, results, strict=True):
                fut.set_result(result)

    def _insert(self, conn: sqlite3.Connection, event: Event, now: float) -> Recorded:
        status = initial_status(event)
        history = json.dumps([history_entry(now, status)])
        cur = conn.execute(
            "INSERT OR IGNORE INTO events (id, key, kind, source, model, version, status,"
            " received_at, updated_at, due_at, event, history)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                event.id,
                event.key,
                event.kind.value,
                event.source.value,
                event.model,
                event.version,
                status.value,
                now,
                now,
                now if status is Status.RECEIVED else None,
                event.model_dump_json(),
                history,
            ),
        )
        created = cur.rowcount == 1
        if not created:
            conn.execute("UPDATE events SET deliveries = deliveries + 1 WHERE id = ?", (event.id,))
        row = conn.execute("SELECT * FROM events WHERE id = ?", (event.id,)).fetchone()
        return Recorded(_to_record(row), created)

    # --- reads -------------------------------------------------------------------------

    def get(self, event_id: str) -> EventRecord | None:
        row = self._conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return _to_record(row) if row else None

    def list(
        self, *, status: Status | None = None, kind: EventKind | None = None, limit: int = 100
    ) -> list[EventRecord]:
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status.value)
        if kind:
            where.append("kind = ?")
            args.append(kind.value)
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY received_at DESC, id LIMIT ?"
        rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [_to_record(r) for r in rows]

    # --- state changes -----------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn)

    def claim(
        self, event_id: str | None, *, worker: str, token: str, now: float, lease_seconds: float
    ) -> EventRecord | None:
        with self._tx() as conn:
            if event_id is None:
                row = conn.execute(
                    "SELECT * FROM events WHERE due_at IS NOT NULL AND due_at <= ?"
                    " ORDER BY due_at LIMIT 1",
                    (now,),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT * FROM events WHERE id = ? AND due_at IS NOT NULL AND due_at <= ?",
                    (event_id, now),
                ).fetchone()
            if row is None or Status(row["status"]) not in CLAIMABLE:
                return None
            reclaimed = Status(row["status"]) is Status.RUNNING
            entry = history_entry(
                now,
                Status.RUNNING,
                attempt=row["attempts"] + 1,
                worker=worker,
                note="lease expired; reclaimed" if reclaimed else None,
            )
            conn.execute(
                "UPDATE events SET status = 'running', attempts = attempts + 1, worker = ?,"
                " lease_token = ?, started_at = ?, updated_at = ?, due_at = ?, history = ?"
                " WHERE id = ?",
                (
                    worker,
                    token,
                    now,
                    now,
                    now + lease_seconds,
                    append_history(row["history"], entry),
                    row["id"],
                ),
            )
            new = conn.execute("SELECT * FROM events WHERE id = ?", (row["id"],)).fetchone()
            return _to_record(new)

    def heartbeat(self, event_id: str, *, token: str, until: float, now: float) -> bool:
        cur = self._conn.execute(
            "UPDATE events SET due_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'running' AND lease_token = ?",
            (until, now, event_id, token),
        )
        return cur.rowcount == 1

    def _finish(
        self,
        event_id: str,
        token: str,
        now: float,
        status: Status,
        *,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
        due_at: float | None = None,
    ) -> None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT history FROM events WHERE id = ? AND status = 'running'"
                " AND lease_token = ?",
                (event_id, token),
            ).fetchone()
            if row is None:
                raise lease_lost(event_id)
            retry_at = ts(due_at).isoformat() if due_at is not None else None  # type: ignore[union-attr]
            entry = history_entry(now, status, error=error, retry_at=retry_at)
            conn.execute(
                "UPDATE events SET status = ?, updated_at = ?, finished_at = ?, due_at = ?,"
                " lease_token = NULL, outcome = COALESCE(?, outcome), last_error = ?,"
                " history = ? WHERE id = ?",
                (
                    status.value,
                    now,
                    now,
                    due_at,
                    json.dumps(outcome) if outcome is not None else None,
                    error,
                    append_history(row["history"], entry),
                    event_id,
                ),
            )

    def complete(self, event_id: str, *, token: str, outcome: dict[str, Any], now: float) -> None:
        self._finish(event_id, token, now, Status.DONE, outcome=outcome)

    def fail(
        self, event_id: str, *, token: str, error: str, retry_at: float | None, now: float
    ) -> Status:
        status = Status.FAILED if retry_at is not None else Status.DEAD
        self._finish(event_id, token, now, status, error=error, due_at=retry_at)
        return status

    def requeue(self, event_id: str, *, now: float, reason: str = "replay") -> EventRecord:
        with self._tx() as conn:
            row = conn.execute("SELECT history FROM events WHERE id = ?", (event_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no event with id {event_id}")
            entry = history_entry(now, Status.RECEIVED, note=reason)
            conn.execute(
                "UPDATE events SET status = 'received', attempts = 0, due_at = ?,"
                " updated_at = ?, lease_token = NULL, worker = NULL, history = ? WHERE id = ?",
                (now, now, append_history(row["history"], entry), event_id),
            )
        record = self.get(event_id)
        assert record is not None
        return record

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.put(None)
            self._writer.join(timeout=10)
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error: one writer at a time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _to_record(row: sqlite3.Row) -> EventRecord:
    return record_from_row({k: row[k] for k in row.keys()})  # noqa: SIM118
