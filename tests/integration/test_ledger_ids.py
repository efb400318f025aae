"""The SQLite ledger records each event once without a unique index written per event.

Its ids live in two parts (shared/adapters/ledger_sqlite_ids.py): ``event_ids``, merged in
sorted bulk, and the unmerged tail in each writing process's memory. These tests hold it to
the promise the unique index kept: one row per key, whichever process records it, before or
after a merge, across a crash of the batch, and in ledgers made before the change.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.adapters.ledger_sqlite_ids import GrowingBloomFilter
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import Source
from mlops_hooks.shared.ports.ledger import UNRECORDABLE, LedgerError, Recorded, Status
from tests.support.processes import wait_for

T0 = 1_800_000_000.0


def registered(version: int, delivery: str = "d1") -> events.Event:
    return events.model_registered(Source.MLFLOW, "churn", str(version), delivery_id=delivery)


def stored(path: Path) -> tuple[int, int, int]:
    """Rows, distinct ids, and ids in event_ids, read by a plain SQLite connection."""
    with sqlite3.connect(path) as conn:
        rows, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
        merged = conn.execute("SELECT count(*) FROM event_ids").fetchone()[0]
    return rows, distinct, merged


def test_two_ledgers_on_one_file_record_a_key_once_before_and_after_a_merge(tmp_path) -> None:
    """Two ledger objects act as two processes: each sees the other's unmerged rows."""
    path = tmp_path / "ledger.db"
    serve, cli = SqliteLedger(path), SqliteLedger(path)
    try:
        first = serve.record(registered(1), now=T0)
        assert first.created
        again = cli.record(registered(1, delivery="d2"), now=T0 + 1)  # unmerged in `serve`
        assert not again.created and again.record.deliveries == 2
        assert cli.get(first.id) is not None  # found in the unmerged rows
        assert serve.merge_ids() == 1 and cli.merge_ids() == 0
        third = cli.record(registered(1, delivery="d3"), now=T0 + 2)  # now in event_ids
        assert not third.created and third.record.deliveries == 3
        fresh = SqliteLedger(path)  # a process started after the merge
        assert fresh.get(first.id).deliveries == 3  # type: ignore[union-attr]
        assert not fresh.record(registered(1, delivery="d4"), now=T0 + 3).created
        fresh.close()
    finally:
        serve.close()
        cli.close()
    assert stored(path) == (1, 1, 1)


def test_the_batch_writers_merged_ids_still_catch_every_duplicate(tmp_path) -> None:
    """The edge's writer: thousands of events merged by its checkpointer, then every one of
    them delivered again (the Bloom filter's "maybe", checked in event_ids), plus new ones."""
    path = tmp_path / "ledger.db"
    ledger = SqliteLedger(path, checkpoint_seconds=0.05)
    writer = ledger.batch_writer()
    try:
        for start in range(0, 3000, 100):
            writer.stage([registered(v) for v in range(start, start + 100)], now=T0)
            writer.commit()
        wait_for(lambda: stored(path)[2] == 3000, timeout=30, what="the ids merged")
        assert ledger._ids.filter is not None and not ledger._ids.tail
        for start in range(0, 3100, 100):
            staged = writer.stage(
                [registered(v, delivery="again") for v in range(start, start + 100)], now=T0 + 1
            )
            writer.commit()
            created = [r.created for r in staged if isinstance(r, Recorded)]
            assert created == [start >= 3000] * 100, start
    finally:
        writer.close()
        ledger.close()
    assert stored(path) == (3100, 3100, 3100)  # close merged the last hundred


def test_a_batch_writer_closed_twice_leaves_the_merging_to_the_ledger(tmp_path) -> None:
    """A second close of the edge's writer (its owner's, then a test's teardown) is a no-op:
    the ledger counts it gone once, and merges the ids itself again when it closes."""
    path = tmp_path / "ledger.db"
    ledger = SqliteLedger(path)
    writer = ledger.batch_writer()
    writer.close()
    writer.close()
    ledger.record(registered(1), now=T0)
    ledger.close()
    assert stored(path) == (1, 1, 1)


def test_a_merge_rides_on_the_batches_commits(tmp_path) -> None:
    """The checkpointer only plans a merge; its steps go out with the next batches' COMMITs
    (250 ids each, then the watermark), so the event loop never waits for a merge."""
    path = tmp_path / "ledger.db"
    ledger = SqliteLedger(path, checkpoint_seconds=3600)  # no round during the test
    writer = ledger.batch_writer()
    try:
        for start in range(0, 600, 100):
            writer.stage([registered(v) for v in range(start, start + 100)], now=T0)
            writer.commit()
        planner = sqlite3.connect(path)  # as the checkpointer's connection
        assert ledger._ids.plan_merge(planner, ledger._write_lock) == 600
        merged = []
        for start in range(600, 1000, 100):
            writer.stage([registered(v) for v in range(start, start + 100)], now=T0)
            writer.commit()
            merged.append(stored(path)[2])
        assert merged == [250, 500, 600, 600]  # three chunks, then the watermark
        assert not ledger._ids.merge_pending and ledger._ids.merged_upto == 600
        planner.close()
    finally:
        writer.close()
        ledger.close()
    assert stored(path) == (1000, 1000, 1000)


def _record_all(path: str, keys: range, barrier) -> None:  # in a child process
    ledger = SqliteLedger(path)
    barrier.wait()
    for start in range(keys.start, keys.stop, 25):
        ledger.record_many([registered(v) for v in range(start, start + 25)], now=time.time())
    ledger.close()


def test_processes_recording_the_same_keys_at_once_store_each_once(tmp_path) -> None:
    path = tmp_path / "ledger.db"
    SqliteLedger(path).close()  # created before the race
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [
        ctx.Process(target=_record_all, args=(str(path), range(0, 1500), barrier)) for _ in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    rows, distinct, _ = stored(path)
    assert rows == distinct == 1500
    ledger = SqliteLedger(path)
    assert ledger.get(registered(7).id).deliveries == 3  # type: ignore[union-attr]
    ledger.close()


def test_a_batch_that_does_not_commit_leaves_no_id_behind(tmp_path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    unwritable = events.model_registered(
        Source.MLFLOW, "churn", "2", delivery_id="d1", payload={"description": "\udc00"}
    )  # a lone surrogate: valid JSON, not storable text
    with pytest.raises(UNRECORDABLE):
        ledger.record_many([registered(1), unwritable], now=T0)
    assert ledger.get(registered(1).id) is None
    other = ledger.record(registered(3), now=T0)  # may take the rolled-back row's seq
    assert ledger.record(registered(1), now=T0).created
    assert ledger.get(other.id).event.version == "3"  # type: ignore[union-attr]
    assert not ledger.record(registered(1), now=T0).created
    ledger.close()


def test_a_ledger_made_before_the_change_keeps_its_events_and_their_order(tmp_path) -> None:
    """Schema 1 (events.id the primary key) is moved to schema 2 when the ledger opens."""
    path = tmp_path / "ledger.db"
    from mlops_hooks.shared.adapters import ledger_sqlite

    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE events ("
            + ledger_sqlite.EVENT_COLUMNS.replace("seq         INTEGER PRIMARY KEY,", "").replace(
                "id          TEXT NOT NULL,", "id          TEXT PRIMARY KEY,"
            )
            + ")"
        )
        conn.execute("CREATE INDEX events_due ON events(due_at) WHERE due_at IS NOT NULL")
        conn.execute("CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT, updated_at REAL)")
    # rows written the old way: through a ledger of today, copied into the old table
    today = SqliteLedger(tmp_path / "today.db")
    ids = [today.record(registered(v), now=T0 + v).id for v in (5, 3, 9)]
    today.close()
    with sqlite3.connect(path) as conn:
        conn.execute("ATTACH ? AS today", (str(tmp_path / "today.db"),))
        columns = ", ".join(ledger_sqlite._V1_COLUMNS)
        conn.execute(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM today.events ORDER BY seq"
        )
    ledger = SqliteLedger(path)
    try:
        assert [r.id for r in ledger.list()] == ids[::-1]  # newest first, as before
        assert ledger.get(ids[1]).status is Status.RECEIVED  # type: ignore[union-attr]
        assert not ledger.record(registered(3, delivery="again"), now=T0).created
        assert ledger.record(registered(4), now=T0).created
    finally:
        ledger.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert stored(path) == (4, 4, 4)


def test_the_bloom_filter_never_misses_and_seldom_says_maybe() -> None:
    bloom = GrowingBloomFilter(10_000)
    ids = [registered(v).id for v in range(10_000)]
    for event_id in ids:
        bloom.add(event_id)
    assert len(bloom.filters) == 1  # one filter, full
    assert all(event_id in bloom for event_id in ids)
    strangers = [registered(v).id for v in range(10_000, 30_000)]
    maybe = sum(event_id in bloom for event_id in strangers) / len(strangers)
    assert maybe < 0.015, maybe  # about 1 in 150 at capacity


def test_the_growing_filter_adds_a_larger_filter_when_one_is_full() -> None:
    bloom = GrowingBloomFilter(1_000)
    ids = [registered(v).id for v in range(10_000)]
    for event_id in ids:
        bloom.add(event_id)
    assert [f.capacity for f in bloom.filters] == [1_000, 2_000, 4_000, 8_000]
    assert all(event_id in bloom for event_id in ids)
    strangers = [registered(v).id for v in range(10_000, 30_000)]
    # each full filter says "maybe" to about 1 in 150: three full ones, about 2 in 100
    assert sum(event_id in bloom for event_id in strangers) / len(strangers) < 0.03


def test_an_sqlite_too_old_is_named_in_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(LedgerError) as refused:
        SqliteLedger(tmp_path / "ledger.db")
    assert str(refused.value) == (
        "the SQLite ledger needs SQLite 3.35 or newer; this Python has 3.31.1"
    )
    assert not (tmp_path / "ledger.db").exists()
