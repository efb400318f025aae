"""SQLite ledger: the local default, in WAL mode.

What is accepted is durable: recording events (and guards, job runs, replays) commits with
synchronous=FULL, so a recorded event survives a crash of the process and of the machine. The
workers' state changes (claim, heartbeat, done / retry / dead) commit with synchronous=NORMAL:
they survive a crash of the process, and the next FULL commit (or checkpoint) syncs them to disk
with the rest of the WAL; a power cut before that can only lose a transition, and the event then
runs again (the ledger promises at least once; the idempotency keys and guards make a re-run
harmless). One fsync per accepted batch instead of two more per event processed.

Writers in one process take turns on one lock instead of SQLite's busy handler, which sleeps in
steps of up to 100 ms; other processes (the CLI) still meet the busy timeout.

``record_many`` commits a batch in one transaction (one fsync). The HTTP edge uses the
two-phase ``SqliteBatchWriter`` instead: inserts staged on the event loop, COMMIT on a thread,
the next batch gathering meanwhile (group commit, functions/batching.py).
An event's id is unique without a unique index written per event: see ledger_sqlite_ids.py.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from mlops_hooks.shared.adapters.ledger_codec import (
    FIRST_ROW_COLUMNS,
    append_history,
    first_row,
    history_entry,
    record_from_row,
    ts,
)
from mlops_hooks.shared.adapters.ledger_sqlite_ids import WATERMARK, IdIndex, MergeStep
from mlops_hooks.shared.adapters.wal_sync import WalSyncer, fdatasync_file
from mlops_hooks.shared.domain.events import HOUSEKEEPING_TASKS, OWN_WRITE, Event, EventKind
from mlops_hooks.shared.ports.ledger import (
    CLAIMABLE,
    UNRECORDABLE,
    EventRecord,
    Hold,
    JobRun,
    Ledger,
    LedgerError,
    Recorded,
    Status,
    Unrecordable,
    lease_lost,
)

# The events' columns; ``seq`` is the row's place in the log (a stable rowid) and ``id`` is
# unique through event_ids and the writers' IdIndex (ledger_sqlite_ids.py), not a unique index.
EVENT_COLUMNS = """
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,
    key         TEXT NOT NULL,  -- unique through id, which is its SHA-256
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
"""
SCHEMA_VERSION = 2  # 1: events.id was the primary key (an index leaf written per event)
SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS events ({EVENT_COLUMNS})",
    "CREATE INDEX IF NOT EXISTS events_due ON events(due_at) WHERE due_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS events_model ON events(model, kind) WHERE model IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS event_ids (id TEXT PRIMARY KEY, seq INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ledger_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    f"INSERT OR IGNORE INTO ledger_meta (name, value) VALUES ('{WATERMARK}', 0)",
    """CREATE TABLE IF NOT EXISTS holds (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    since  REAL NOT NULL,
    until  REAL  -- NULL: held for good
)""",
    """CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    finished   INTEGER NOT NULL,
    started_at REAL NOT NULL,
    doc        TEXT NOT NULL  -- the JobRun as JSON
)""",
    "CREATE INDEX IF NOT EXISTS runs_unfinished ON runs(finished, started_at)",
    """CREATE TABLE IF NOT EXISTS cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at REAL NOT NULL
)""",
)

_V1_COLUMNS = tuple(line.split()[0] for line in EVENT_COLUMNS.strip().splitlines())[1:]
# A ledger of schema 1 becomes schema 2 in one transaction: the rows keep their order (rowid
# becomes seq) and every id goes into event_ids.
MIGRATE_FROM_1 = (
    "ALTER TABLE events RENAME TO events_v1",
    "DROP INDEX IF EXISTS events_due",
    "DROP INDEX IF EXISTS events_model",
    *SCHEMA[:3],
    f"INSERT INTO events (seq, {', '.join(_V1_COLUMNS)})"
    f" SELECT rowid, {', '.join(_V1_COLUMNS)} FROM events_v1 ORDER BY rowid",
    "DROP TABLE events_v1",
    "INSERT INTO event_ids (id, seq) SELECT id, seq FROM events ORDER BY id",
    f"UPDATE ledger_meta SET value = (SELECT coalesce(max(seq), 0) FROM events)"
    f" WHERE name = '{WATERMARK}'",
)


_INSERT_FIRST = (  # a first delivery's row (the IdIndex has said it is new)
    f"INSERT INTO events ({', '.join(FIRST_ROW_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(FIRST_ROW_COLUMNS))})"
)


# events.is_own_write and events.is_housekeeping_tick, as SQL over the stored event document
_OWN_WRITE_SQL = (
    f"(kind = '{EventKind.IGNORED.value}' AND json_extract(event, '$.reason') LIKE '{OWN_WRITE}%')"
)
_HOUSEKEEPING_SQL = (
    f"(kind = '{EventKind.SCHEDULED.value}' AND json_extract(event, '$.task') IN "
    f"({', '.join(repr(t) for t in sorted(HOUSEKEEPING_TASKS))}))"
)


log = logging.getLogger("mlops_hooks.ledger")

MIN_SQLITE = (3, 35)

# A process without a batch writer (the CLI, a worker of its own) merges its ids itself once
# it has recorded this many since the last merge.
MERGE_AT = 1_000

_CLAIM_COLUMNS = (
    "status", "attempts", "worker", "lease_token", "started_at", "updated_at", "due_at", "history"
)  # fmt: skip


class SqliteLedger(Ledger):
    def __init__(
        self,
        path: str | Path,
        *,
        tick_retention_days: float = 7,
        wal_limit_mb: float = 1024,
        checkpoint_seconds: float = 5,
        sync_helper: bool = True,
    ) -> None:
        """``tick_retention_days``: how long a finished housekeeping tick (a sweep every 10 s,
        a reconcile a minute) is kept, as DynamoDB's TTL keeps them on AWS. ``wal_limit_mb``:
        how large the write-ahead log may grow under a flood of webhooks, ``checkpoint_seconds``
        how often it is copied into the database file meanwhile (SqliteBatchWriter);
        ``sync_helper``: the batch writer's log is synced by a helper process (wal_sync.py)."""
        if sqlite3.sqlite_version_info < MIN_SQLITE:  # RETURNING, window functions, JSON
            raise LedgerError(
                f"the SQLite ledger needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer;"
                f" this Python has {sqlite3.sqlite_version}"
            )
        self.path = Path(path)
        self.tick_retention = tick_retention_days * 86_400
        self.wal_limit_bytes = int(wal_limit_mb * 1024 * 1024)
        self.checkpoint_seconds = checkpoint_seconds
        self.sync_helper = sync_helper
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()  # one writer at a time in this process
        self._closed = False
        self._ids = IdIndex()
        self._writers = 0  # open batch writers: their checkpointer merges the ids
        self._create_or_migrate()
        self._ids.open(self._conn)

    def _create_or_migrate(self) -> None:
        conn = self._conn
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self._tx() as tx:  # one process creates or migrates; the others then see it done
            if tx.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            old = {r["name"] for r in tx.execute("PRAGMA table_info(events)")}
            for statement in SCHEMA:  # a schema-1 events table and its indexes stay as they are
                tx.execute(statement)
            if old and "seq" not in old:
                log.info("ledger %s: moving its events to schema %s", self.path, SCHEMA_VERSION)
                for statement in MIGRATE_FROM_1:
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # --- connections -------------------------------------------------------------------

    def _connect(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        # No larger cache_size: SQLite's leaf split (an index leaf in the middle of the tree,
        # as in event_ids) renumbers a page through the lock-byte page, so that COMMIT scans
        # the whole page cache; with the id index written per webhook, 200 MB cost twice the
        # default 2 MB (issue 19, docs/benchmark-history.md).
        # whichever connection starts the log over cuts it back to the limit (SqliteBatchWriter)
        conn.execute(f"PRAGMA journal_size_limit={self.wal_limit_bytes}")
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError("ledger is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.sync = "FULL"
        return conn

    # --- recording ----------------------------------------------------------------------

    def record(self, event: Event, *, now: float) -> Recorded:
        return self.record_many([event], now=now)[0]

    def record_many(self, batch: list[Event], *, now: float) -> list[Recorded]:
        """All of ``batch`` in one transaction: one fsync however many webhooks it holds."""
        with self._tx(inserts=True) as conn:
            recorded = [self._insert(conn, event, now) for event in batch]
        if not self._writers and len(self._ids.tail) >= MERGE_AT:
            self.merge_ids()  # no batch writer's checkpointer here to do it
        return recorded

    def merge_ids(self) -> int:
        """Move the ids of the rows recorded since the last merge into ``event_ids``
        (ledger_sqlite_ids.py); returns how many."""
        return self._ids.merge(self._conn, lambda: self._tx(durable=False), self._write_lock)

    def batch_writer(self) -> SqliteBatchWriter:
        return SqliteBatchWriter(
            self, checkpoint_seconds=self.checkpoint_seconds, sync_helper=self.sync_helper
        )

    def _insert(self, conn: sqlite3.Connection, event: Event, now: float) -> Recorded:
        """Inside a write transaction that began with ``IdIndex.refresh``."""
        event_id = event.id
        seq = self._ids.find_for_write(conn, event_id)
        if seq is not None:
            rows = conn.execute(
                "UPDATE events SET deliveries = deliveries + 1 WHERE seq = ? AND id = ?"
                " RETURNING *",
                (seq, event_id),
            ).fetchall()
            if rows:
                return Recorded(_to_record(rows[0]), created=False)
        cur = conn.execute(_INSERT_FIRST, first_row(event, now))
        self._ids.added(event_id, cur.lastrowid)  # type: ignore[arg-type]
        return Recorded.first(event, now)

    # --- reads -------------------------------------------------------------------------

    def get(self, event_id: str) -> EventRecord | None:
        conn = self._conn
        seq = self._ids.find(conn, event_id)
        row = None if seq is None else _row(conn, seq)
        return _to_record(row) if row else None

    def list(
        self,
        *,
        status: Status | None = None,
        kind: EventKind | None = None,
        limit: int = 100,
        everything: bool = True,
        model: str | None = None,
    ) -> list[EventRecord]:
        where, args = [], []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if status:
            where.append("status = ?")
            args.append(status.value)
        if kind:
            where.append("kind = ?")
            args.append(kind.value)
        if not everything:  # in SQL, so a day of sweep ticks never buries the page
            where.append(f"NOT ({_OWN_WRITE_SQL} OR {_HOUSEKEEPING_SQL})")
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY rowid DESC LIMIT ?"  # rows are inserted as they are received
        rows = self._conn.execute(sql, (*args, limit)).fetchall()
        return [_to_record(r) for r in rows]

    def models(self) -> list[str]:
        rows = self._conn.execute(
            "SELECT DISTINCT model FROM events WHERE model IS NOT NULL ORDER BY model"
        ).fetchall()
        return [r["model"] for r in rows]

    def children(self, event_id: str) -> list[EventRecord]:
        rows = self._conn.execute(
            "SELECT * FROM events WHERE json_extract(event, '$.parent_id') = ? ORDER BY rowid DESC",
            (event_id,),
        ).fetchall()
        return [_to_record(r) for r in rows]

    def expire_ticks(self, *, now: float) -> int:
        """Only merged rows go (the tail in memory keeps its seqs), and never the newest row,
        whose seq the next one would otherwise take again."""
        self.merge_ids()
        with self._tx(durable=False) as conn:
            gone = conn.execute(
                f"DELETE FROM events WHERE {_HOUSEKEEPING_SQL} AND received_at < ?"
                " AND status IN (?, ?) AND seq <= (SELECT value FROM ledger_meta WHERE name = ?)"
                " AND seq < (SELECT max(seq) FROM events) RETURNING id, seq",
                (now - self.tick_retention, Status.DONE.value, Status.IGNORED.value, WATERMARK),
            ).fetchall()
            conn.executemany("DELETE FROM event_ids WHERE id = ? AND seq = ?", gone)
            return len(gone)

    # --- state changes -----------------------------------------------------------------

    def _tx(self, *, durable: bool = True, inserts: bool = False) -> _Transaction:
        """``inserts``: the transaction records events, so it brings this process's IdIndex
        up to date first and undoes its additions if it rolls back."""
        conn = self._conn
        level = "FULL" if durable else "NORMAL"
        if self._local.sync != level:  # per connection, and only outside a transaction
            conn.execute(f"PRAGMA synchronous={level}")
            self._local.sync = level
        return _Transaction(conn, self._write_lock, self._ids if inserts else None)

    def due_ids(self, before: float, *, limit: int = 100) -> list[str]:
        rows = self._conn.execute(
            "SELECT id FROM events WHERE due_at IS NOT NULL AND due_at <= ?"
            " ORDER BY due_at LIMIT ?",
            (before, limit),
        ).fetchall()
        return [row["id"] for row in rows]

    def claim(
        self, event_id: str | None, *, worker: str, token: str, now: float, lease_seconds: float
    ) -> EventRecord | None:
        with self._tx(durable=False) as conn:
            if event_id is None:
                row = conn.execute(
                    "SELECT * FROM events WHERE due_at IS NOT NULL AND due_at <= ?"
                    " ORDER BY due_at LIMIT 1",
                    (now,),
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT * FROM events WHERE seq = ? AND id = ?"
                    " AND due_at IS NOT NULL AND due_at <= ?",
                    (self._ids.find(conn, event_id), event_id, now),
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
            claimed = {
                **{k: row[k] for k in row.keys()},  # noqa: SIM118 - sqlite3.Row
                "status": Status.RUNNING.value,
                "attempts": row["attempts"] + 1,
                "worker": worker,
                "lease_token": token,
                "started_at": now,
                "updated_at": now,
                "due_at": now + lease_seconds,
                "history": append_history(row["history"], entry),
            }
            conn.execute(
                "UPDATE events SET status = ?, attempts = ?, worker = ?, lease_token = ?,"
                " started_at = ?, updated_at = ?, due_at = ?, history = ? WHERE seq = ?",
                (*(claimed[c] for c in _CLAIM_COLUMNS), row["seq"]),
            )
            return record_from_row(claimed)

    def heartbeat(self, event_id: str, *, token: str, until: float, now: float) -> bool:
        with self._tx(durable=False) as conn:
            cur = conn.execute(
                "UPDATE events SET due_at = ?, updated_at = ?"
                " WHERE seq = ? AND id = ? AND status = 'running' AND lease_token = ?",
                (until, now, self._ids.find(conn, event_id), event_id, token),
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
        with self._tx(durable=False) as conn:
            row = conn.execute(
                "SELECT seq, history FROM events WHERE seq = ? AND id = ?"
                " AND status = 'running' AND lease_token = ?",
                (self._ids.find(conn, event_id), event_id, token),
            ).fetchone()
            if row is None:
                raise lease_lost(event_id)
            retry_at = ts(due_at).isoformat() if due_at is not None else None  # type: ignore[union-attr]
            entry = history_entry(now, status, error=error, retry_at=retry_at)
            conn.execute(
                "UPDATE events SET status = ?, updated_at = ?, finished_at = ?, due_at = ?,"
                " lease_token = NULL, outcome = COALESCE(?, outcome), last_error = ?,"
                " history = ? WHERE seq = ?",
                (
                    status.value,
                    now,
                    now,
                    due_at,
                    json.dumps(outcome) if outcome is not None else None,
                    error,
                    append_history(row["history"], entry),
                    row["seq"],
                ),
            )

    def acquire(self, name: str, holder: str, *, now: float, until: float | None = None) -> Hold:
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM holds WHERE name = ?", (name,)).fetchone()
            if row is not None and row["holder"] != holder:
                if row["until"] is None or row["until"] > now:
                    return Hold(name, row["holder"], row["since"], row["until"])
                row = None  # lapsed: take it anew
            since = now if row is None else row["since"]
            conn.execute(
                "INSERT OR REPLACE INTO holds (name, holder, since, until) VALUES (?,?,?,?)",
                (name, holder, since, until),
            )
            return Hold(name, holder, since, until)

    def release(self, name: str, holder: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM holds WHERE name = ? AND holder = ?", (name, holder))
            return cur.rowcount == 1

    def save_run(self, run: JobRun) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO runs (run_id, finished, started_at, doc) VALUES (?,?,?,?)",
                (run.run_id, int(run.state.finished), run.started_at, run.model_dump_json()),
            )

    def get_run(self, run_id: str) -> JobRun | None:
        row = self._conn.execute("SELECT doc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return JobRun.model_validate_json(row["doc"]) if row else None

    def list_runs(self, *, unfinished: bool = False, limit: int = 100) -> list[JobRun]:
        where = "WHERE finished = 0" if unfinished else ""
        rows = self._conn.execute(
            f"SELECT doc FROM runs {where} ORDER BY started_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [JobRun.model_validate_json(r["doc"]) for r in rows]

    def get_cursor(self, name: str) -> str | None:
        row = self._conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def save_cursor(self, name: str, value: str, *, now: float) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO cursors (name, value, updated_at) VALUES (?,?,?)",
                (name, value, now),
            )

    def requeue(self, event_id: str, *, now: float, reason: str = "replay") -> EventRecord:
        with self._tx() as conn:
            seq = self._ids.find(conn, event_id)
            row = None if seq is None else _row(conn, seq, "history")
            if row is None:
                raise LedgerError(f"no event with id {event_id}")
            entry = history_entry(now, Status.RECEIVED, note=reason)
            conn.execute(
                "UPDATE events SET status = 'received', attempts = 0, due_at = ?,"
                " updated_at = ?, lease_token = NULL, worker = NULL, history = ? WHERE seq = ?",
                (now, now, append_history(row["history"], entry), seq),
            )
        record = self.get(event_id)
        assert record is not None
        return record

    def close(self) -> None:
        """Merge what is left of the id tail (the next process then starts with none), then
        close this thread's connection; others close when their threads end."""
        if (self._ids.tail or self._ids.merge_pending) and not self._writers and not self._closed:
            try:
                self.merge_ids()
            except (sqlite3.Error, LedgerError):  # the rows are safe; the next merge takes them
                log.warning("ledger ids not merged at close; the next writer will", exc_info=True)
        self._closed = True
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SqliteBatchWriter:
    """Two-phase group commit for one owner (the HTTP edge's event loop).

    ``stage`` runs BEGIN and the inserts: CPU only, done on the caller's thread. ``commit``
    ends the transaction. With a ``syncer`` (the default) the COMMIT writes the log without
    syncing it, on the loop, and the owner acknowledges the batch once the syncer's helper
    process has synced the log (wal_sync.py); without one the COMMIT is the fsync, which the
    edge runs on a thread (SQLite releases the GIL for it) while the loop keeps serving. One
    batch at a time; the owner enforces that.
    """

    # A checkpoint that finishes the log leaves the writer at most this many frames to copy
    # itself (a few ms; the background passes copy the rest).
    FINISH_FRAMES = 2048
    CATCH_UP_PASSES = 8

    def __init__(
        self, ledger: SqliteLedger, *, checkpoint_seconds: float, sync_helper: bool = False
    ) -> None:
        self.ledger = ledger
        self.conn = ledger._connect(check_same_thread=False)
        self.syncer: WalSyncer | None = None
        if sync_helper:
            self.conn.execute("PRAGMA synchronous=NORMAL")  # the helper syncs: see commit
            self.syncer = WalSyncer(ledger.path)
        # Checkpoints copy the WAL into the database file. Run inside a COMMIT they stall
        # that batch (bench/ingress.py: p99 11 -> 20 ms); a PASSIVE checkpoint from its own
        # connection never blocks the writer. A round copies each page written since the last
        # one once, and merges the ids recorded meanwhile into event_ids first (IdIndex). The WAL
        # starts over once a checkpoint has copied all of it, which happens at the first pause.
        # Under sustained load there may be none and it only grows (0.65-1.5 GB in
        # bench/ingress.py's 40-80 s with schema 1's id index), so past the ledger's
        # wal_limit_mb the writer finishes the checkpoint itself right after a COMMIT (see
        # ``commit``; that batch waits for its fsync: 2.7 ms at the median, up to 34 ms) and
        # SQLite cuts the log back to the limit when it starts over.
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        self.limit_frames = max(1, ledger.wal_limit_bytes // (page_size + 24))  # frame header
        self._stop = threading.Event()
        self._finish_due = threading.Event()
        ledger._writers += 1
        # every id in a Bloom filter: a new webhook's id is then known to be new without a read
        ledger._ids.build_filter(self.conn, ledger._write_lock)
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop,
            args=(checkpoint_seconds,),
            name="ledger-checkpoint",
            daemon=True,
        )
        self._checkpointer.start()

    def _checkpoint_loop(self, every: float) -> None:
        conn = self.ledger._connect()
        conn.execute("PRAGMA synchronous=NORMAL")  # merges: the rows they index are durable
        ids, lock = self.ledger._ids, self.ledger._write_lock
        try:
            failing = False
            while not self._stop.wait(every):
                try:
                    if ids.merge_pending:  # no batch carried its steps for a round: idle
                        ids.finish_merge(lambda: _Transaction(conn, lock))
                    else:
                        ids.plan_merge(conn, lock)
                    self._catch_up(conn)
                except sqlite3.Error:  # a full disk, say: try again next round, keep serving
                    if not failing:  # once, not every round
                        log.warning("ledger checkpoint failed; trying again", exc_info=True)
                    failing = True
                else:
                    if failing:
                        log.info("ledger checkpoints work again")
                    failing = False
        finally:
            conn.close()

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        for _ in range(self.CATCH_UP_PASSES):
            frames, copied = _passive_checkpoint(conn)
            if frames < self.limit_frames:
                return
            if frames - copied <= self.FINISH_FRAMES:  # over the limit and caught up
                self._finish_due.set()
                return

    def close(self) -> None:
        if self._stop.is_set():  # closed already (an owner's close, then a test's teardown)
            return
        self._stop.set()
        self._checkpointer.join(timeout=10)
        self.sync_by_commit()
        self.conn.close()
        self.ledger._writers -= 1

    def sync_by_commit(self) -> None:
        """From now on each COMMIT syncs the log itself (the helper is gone, or closing)."""
        if self.syncer is None:
            return
        with self.ledger._write_lock:  # between batches: PRAGMA synchronous outside one
            self.conn.execute("PRAGMA synchronous=FULL")
        self.syncer.close()
        self.syncer = None

    def stage(self, batch: list[Event], *, now: float) -> list[Recorded | Unrecordable]:
        """Stage every event of the batch; one that cannot be stored (its document does not
        serialise, a lone surrogate will not bind) is returned as ``Unrecordable`` in its place
        and harms none of its neighbours: it fails before the statement writes anything."""
        if self.ledger._closed:
            raise LedgerError("ledger is closed")
        self.ledger._write_lock.acquire()  # released by commit (on the commit thread)
        staged: list[Recorded | Unrecordable] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.ledger._ids.refresh(self.conn)
            for event in batch:
                try:
                    staged.append(self.ledger._insert(self.conn, event, now))
                except UNRECORDABLE as exc:
                    staged.append(Unrecordable(exc))
        except BaseException:
            _roll_back(self.conn, self.ledger._ids)
            self.ledger._write_lock.release()
            raise
        return staged

    def commit(self, *, finish: bool = True) -> None:
        """COMMIT the staged batch (and a merge step with it). ``finish=False``: a checkpoint
        due to finish is left to ``finish_checkpoint``, for an owner that commits on its
        event loop and runs that on a thread."""
        ids, step = self.ledger._ids, None
        try:
            try:
                step = self._merge_step()
                self.conn.execute("COMMIT")
            except BaseException:
                _roll_back(self.conn, ids)
                if step is not None:
                    ids.step_undone(step)
                raise
            ids.committed()
            if step is not None:
                ids.step_done(step)
            if finish and self._finish_due.is_set():
                self._finish_due.clear()
                self._finish_checkpoint()
        finally:
            self.ledger._write_lock.release()

    def sync_log(self) -> None:
        """fdatasync the write-ahead log from this process (what the helper does)."""
        fdatasync_file(f"{self.ledger.path}-wal")

    @property
    def finish_due(self) -> bool:
        return self._finish_due.is_set()

    def finish_checkpoint(self) -> None:
        """The checkpoint ``commit(finish=False)`` left due, between two batches."""
        with self.ledger._write_lock:
            if self._finish_due.is_set():
                self._finish_due.clear()
                self._finish_checkpoint()

    def _merge_step(self) -> MergeStep | None:
        """A step of the id merge under way rides on this batch's COMMIT (ledger_sqlite_ids);
        one that fails is left to the next batch, and never fails this one by itself."""
        try:
            return self.ledger._ids.merge_step(self.conn)
        except sqlite3.Error:
            log.warning("an id merge step failed; the next batch retries it", exc_info=True)
            return None

    def _finish_checkpoint(self) -> None:
        """Copy the last frames of the log while no transaction can add any (this thread
        holds the write lock): the next transaction then writes the log from its start. The
        batch is already durable; a checkpoint that fails only leaves the log as it was."""
        started = time.perf_counter()
        try:
            frames, copied = _passive_checkpoint(self.conn)
        except sqlite3.Error:
            log.warning("ledger checkpoint failed; the log keeps growing", exc_info=True)
            return
        log.info(
            "the ledger's write-ahead log passed its limit: checkpoint finished in %.1f ms, %s",
            (time.perf_counter() - started) * 1000,
            "the log starts over" if frames == copied else f"{frames - copied} frames left",
        )


def _passive_checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
    """A PASSIVE checkpoint (it never waits for a writer): the frames in the log, and how
    many of them are now copied into the database file."""
    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return frames, copied


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error: one writer at a time (the process's
    write lock, then SQLite's). With ``ids``, a transaction that records events: the IdIndex
    is brought up to date first and forgets the transaction's rows if it does not commit."""

    def __init__(
        self, conn: sqlite3.Connection, lock: threading.Lock, ids: IdIndex | None = None
    ) -> None:
        self.conn = conn
        self.lock = lock
        self.ids = ids

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if self.ids is not None:
                self.ids.refresh(self.conn)
        except BaseException:
            _roll_back(self.conn, None)  # refresh only learns rows others committed: kept
            self.lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is not None:
                _roll_back(self.conn, self.ids)
                return
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                _roll_back(self.conn, self.ids)
                raise
            if self.ids is not None:
                self.ids.committed()
        finally:
            self.lock.release()


def _roll_back(conn: sqlite3.Connection, ids: IdIndex | None) -> None:
    """Roll the open transaction back (a failed COMMIT may have ended it already), and have
    the IdIndex forget the rows it added."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    if ids is not None:
        ids.rolled_back()


def _row(conn: sqlite3.Connection, seq: int, columns: str = "*") -> sqlite3.Row | None:
    return conn.execute(f"SELECT {columns} FROM events WHERE seq = ?", (seq,)).fetchone()


def _to_record(row: sqlite3.Row) -> EventRecord:
    return record_from_row({k: row[k] for k in row.keys()})  # noqa: SIM118
