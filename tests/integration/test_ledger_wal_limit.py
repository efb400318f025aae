"""The SQLite ledger's write-ahead log stays bounded under a flood of webhooks.

SQLite starts its log over only when a checkpoint has copied all of it, which needs a pause
between two commits. A flood may have none: without a limit the log grows for as long as the
flood lasts (0.65-1.5 GB in bench/ingress.py while the id index was written per event). Past
``wal_limit_mb`` the edge's writer finishes the checkpoint itself, and the next batch writes
the log from its start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from mlops_hooks.functions.batching import GroupCommit
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteBatchWriter, SqliteLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import Source
from mlops_hooks.shared.ports.ledger import Recorded
from mlops_hooks.shared.ports.runtime import NoQueue
from mlops_hooks.shared.settings import Settings

BATCHES, PER_BATCH = 600, 20


def flood(ledger: SqliteLedger, checkpoint_seconds: float) -> int:
    """Batches back to back, as the edge commits them under sustained load; the largest the
    log grew to, in bytes."""
    writer = SqliteBatchWriter(ledger, checkpoint_seconds=checkpoint_seconds)
    wal = Path(f"{ledger.path}-wal")
    largest = 0
    try:
        for batch in range(BATCHES):
            staged = writer.stage(
                [
                    events.model_registered(
                        Source.MLFLOW, "churn", str(batch * PER_BATCH + n), delivery_id="d"
                    )
                    for n in range(PER_BATCH)
                ],
                now=time.time(),
            )
            writer.commit()
            assert all(isinstance(r, Recorded) and r.created for r in staged)
            largest = max(largest, os.path.getsize(wal))
    finally:
        writer.close()
    return largest


def flooded(folder: Path, limit_mb: float, checkpoint_seconds: float) -> tuple[int, int]:
    """The largest the log grew to in a flood, and the events stored after it."""
    ledger = SqliteLedger(folder / "ledger.db", wal_limit_mb=limit_mb)
    try:
        largest = flood(ledger, checkpoint_seconds)
        return largest, ledger._conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        ledger.close()


def test_the_log_stays_near_its_limit_and_nothing_is_lost(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="mlops_hooks.ledger")
    # The same flood with no checkpoint round in it and no limit in reach: the log keeps every
    # frame written (12,000 events: ~26 MB on this machine). (With rounds every 10 ms, as in
    # the bounded flood below, the rounds alone used to let it grow too, while a random
    # id-index leaf was written for every event; now they catch up with this flood. A longer
    # flood at the default 5 s rounds still grows the log: the limit is what bounds it.)
    unbounded, _ = flooded(tmp_path / "unbounded", limit_mb=100_000, checkpoint_seconds=3600)
    assert not caplog.records
    largest, stored = flooded(tmp_path / "bounded", limit_mb=0.25, checkpoint_seconds=0.01)
    assert stored == BATCHES * PER_BATCH
    # the limit, plus what the flood adds between two of the checkpointer's 10 ms rounds
    # (this machine: 1.1 MB)
    assert largest < unbounded / 8, (largest, unbounded)
    said = [r.getMessage() for r in caplog.records]
    assert any(m.endswith("the log starts over") for m in said), said


def test_the_edge_finishes_the_checkpoint_between_batches_when_its_helper_syncs(
    tmp_path: Path, caplog
) -> None:
    """With the sync helper the edge commits on its event loop: a checkpoint due to finish
    runs on its thread after a batch was answered, before the next one starts."""
    caplog.set_level(logging.INFO, logger="mlops_hooks.ledger")
    ledger = SqliteLedger(tmp_path / "ledger.db", wal_limit_mb=0.25, checkpoint_seconds=0.01)
    settings = Settings(state_dir=tmp_path)
    commit = GroupCommit(bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers={}))
    assert commit._writer.syncer is not None
    wal, largest = Path(f"{ledger.path}-wal"), 0

    async def flood() -> None:
        nonlocal largest
        for batch in range(BATCHES // 3):
            answers = await asyncio.gather(
                *(
                    commit.submit(
                        events.model_registered(
                            Source.MLFLOW, "churn", str(batch * PER_BATCH + n), delivery_id="d"
                        )
                    )
                    for n in range(PER_BATCH)
                )
            )
            assert all(r.created for r in answers)
            largest = max(largest, os.path.getsize(wal))

    try:
        asyncio.run(flood())
        stored = ledger._conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        commit.close()
        ledger.close()
    assert stored == BATCHES // 3 * PER_BATCH
    said = [r.getMessage() for r in caplog.records]
    assert any(m.endswith("the log starts over") for m in said), said
    # 4,000 events write ~9 MB of log with no limit (a third of the flood above); the limit
    # plus what arrives between two 10 ms rounds stays near a megabyte
    assert largest < 3 * 1024 * 1024, largest


def test_the_checkpoint_interval_comes_from_the_settings(tmp_path: Path) -> None:
    """``MLOPS_HOOKS_LEDGER_CHECKPOINT_SECONDS`` reaches the edge's writer: its checkpointer
    copies a committed batch into the database file within a round, and not before."""
    from mlops_hooks.shared.bootstrap import open_ledger
    from mlops_hooks.shared.settings import Settings
    from tests.support.processes import wait_for

    def committed(seconds: float, name: str) -> tuple[SqliteLedger, SqliteBatchWriter, int]:
        settings = Settings(state_dir=tmp_path / name, ledger_checkpoint_seconds=seconds)
        ledger = open_ledger(settings)
        assert isinstance(ledger, SqliteLedger)
        writer = ledger.batch_writer()
        before = os.path.getsize(ledger.path)  # the schema's pages only
        batch = [
            events.model_registered(Source.MLFLOW, "churn", str(n), delivery_id="d")
            for n in range(500)
        ]
        writer.stage(batch, now=time.time())
        writer.commit()  # durable in the log; the database file grows once a round copies it
        return ledger, writer, before

    quick, quick_writer, quick_before = committed(0.05, "quick")
    slow, slow_writer, slow_before = committed(3600, "slow")
    try:
        # well within the default's first round (5 s): the setting, not the default, copied it
        wait_for(lambda: os.path.getsize(quick.path) > quick_before, 3, "a round every 0.05 s")
        assert os.path.getsize(slow.path) == slow_before  # its first round is an hour away
        assert slow_writer.ledger.checkpoint_seconds == 3600
    finally:
        for writer, ledger in ((quick_writer, quick), (slow_writer, slow)):
            writer.close()
            ledger.close()
