"""The edge acknowledges a webhook only once its WAL frames are on disk.

Short of cutting the power, the kernel's page cache tells: cachestat(2) counts a file's pages
still dirty or under writeback. The first test shows the instrument sees a commit that synced
nothing (synchronous=NORMAL, the tempting setting: it took ingress beside a CPU-bound neighbour
to 0.84x bare FastAPI, docs/benchmark-history.md); the second, that group commit answers only
after the WAL is synced.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_hooks.functions.batching import GroupCommit
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.ports.ledger import Recorded
from mlops_hooks.shared.ports.runtime import NoQueue
from mlops_hooks.shared.settings import Settings
from tests.support.pagecache import PageCache, cachestat_missing, page_cache


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqliteLedger]:
    if why := cachestat_missing(tmp_path):
        pytest.skip(why)
    led = SqliteLedger(tmp_path / "ledger.db")
    yield led
    led.close()


def wal_of(ledger: SqliteLedger) -> Path:
    return Path(f"{ledger.path}-wal")


def registered(version: int) -> events.Event:
    return events.model_registered(Source.MLFLOW, "churn", str(version), delivery_id=f"d{version}")


def test_the_page_cache_shows_a_commit_that_synced_nothing(ledger: SqliteLedger) -> None:
    conn = sqlite3.connect(ledger.path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: COMMIT writes, syncs nothing
        conn.execute("INSERT INTO cursors VALUES ('c', ?, 0)", ("x" * 20_000,))
        assert page_cache(wal_of(ledger)).unsynced > 0
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("UPDATE cursors SET updated_at = 1")
        assert page_cache(wal_of(ledger)).unsynced == 0  # FULL: the WAL fsynced at COMMIT
    finally:
        conn.close()


def test_group_commit_answers_once_the_wal_is_on_disk(ledger: SqliteLedger, tmp_path) -> None:
    dispatcher = bootstrap(
        Settings(state_dir=tmp_path), ledger=ledger, queue=NoQueue(), handlers={}
    )
    commit = GroupCommit(dispatcher)
    first_answer: list[PageCache] = []

    async def deliver() -> list[Recorded]:
        answers = [asyncio.ensure_future(commit.submit(registered(v))) for v in range(1, 31)]
        answers[0].add_done_callback(lambda _: first_answer.append(page_cache(wal_of(ledger))))
        return await asyncio.gather(*answers)

    try:
        results = asyncio.run(deliver())
    finally:
        commit.close()
    assert [page.unsynced for page in first_answer] == [0]  # nothing left to lose when answered
    assert first_answer[0].cached > 0  # and the batch did go through this WAL
    assert sorted(int(r.record.version) for r in results) == list(range(1, 31))
    assert len(ledger.list(kind=EventKind.MODEL_REGISTERED, limit=100)) == 30
