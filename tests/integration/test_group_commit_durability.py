"""The edge acknowledges a webhook only once its WAL frames are on disk.

Short of cutting the power, the kernel's page cache tells: cachestat(2) counts a file's pages
still dirty or under writeback. The first test shows the instrument sees a commit that synced
nothing (synchronous=NORMAL, the tempting setting: it took ingress beside a CPU-bound neighbour
to 0.84x bare FastAPI, docs/benchmark-history.md); the others, that group commit answers only
after the WAL is synced, whether its sync helper process does it, or the COMMIT (no helper, or
once it is gone), and that a sync that failed is not acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlops_hooks.functions.batching import GroupCommit
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.adapters.wal_sync import HELPER_NICE, WalSyncer
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.ports.ledger import LedgerError, Recorded
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


def deliver_all(commit: GroupCommit, ledger: SqliteLedger, versions: range, on_first=None):
    """Submit ``versions`` together; each answer notes the WAL's unsynced pages when it comes."""
    seen: list[PageCache] = []

    async def deliver() -> list[Recorded | BaseException]:
        answers = [asyncio.ensure_future(commit.submit(registered(v))) for v in versions]
        for answer in answers:
            answer.add_done_callback(lambda _: seen.append(page_cache(wal_of(ledger))))
        if on_first is not None:
            on_first()
        return await asyncio.gather(*answers, return_exceptions=True)

    return asyncio.run(deliver()), seen


@pytest.fixture
def make_commit(ledger: SqliteLedger, tmp_path: Path) -> Iterator:
    made: list[GroupCommit] = []

    def make(*, sync_helper: bool = True) -> GroupCommit:
        ledger.sync_helper = sync_helper
        settings = Settings(state_dir=tmp_path)
        commit = GroupCommit(bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers={}))
        made.append(commit)
        return commit

    yield make
    for commit in made:
        commit.close()


@pytest.mark.parametrize("sync_helper", [True, False], ids=["helper process", "thread"])
def test_group_commit_answers_once_the_wal_is_on_disk(
    ledger: SqliteLedger, make_commit, sync_helper: bool
) -> None:
    commit = make_commit(sync_helper=sync_helper)
    assert (commit._writer.syncer is not None) is sync_helper
    results, seen = deliver_all(commit, ledger, range(1, 31))
    assert seen and all(page.unsynced == 0 for page in seen)  # nothing to lose when answered
    assert seen[0].cached > 0  # and the batch did go through this WAL
    assert sorted(int(r.record.version) for r in results) == list(range(1, 31))
    assert len(ledger.list(kind=EventKind.MODEL_REGISTERED, limit=100)) == 30


def test_a_killed_sync_helper_loses_nothing_and_commits_sync_from_then_on(
    ledger: SqliteLedger, make_commit, caplog
) -> None:
    commit = make_commit()
    helper = commit._writer.syncer
    results, seen = deliver_all(commit, ledger, range(1, 11))  # the helper syncs these
    assert all(isinstance(r, Recorded) for r in results)

    # killed while the next batch's sync is asked for (or about to be)
    kill = lambda: os.kill(helper.pid, signal.SIGKILL)  # noqa: E731
    results, seen = deliver_all(commit, ledger, range(11, 41), on_first=kill)
    assert all(isinstance(r, Recorded) for r in results), results
    assert all(page.unsynced == 0 for page in seen)
    assert commit._writer.syncer is None  # COMMIT syncs from now on
    assert "sync helper is gone" in caplog.text
    results, seen = deliver_all(commit, ledger, range(41, 51))
    assert all(isinstance(r, Recorded) for r in results) and all(p.unsynced == 0 for p in seen)
    assert len(ledger.list(kind=EventKind.MODEL_REGISTERED, limit=100)) == 50


def test_a_sync_that_fails_is_not_acknowledged(ledger: SqliteLedger, make_commit, tmp_path) -> None:
    commit = make_commit()
    commit._writer.syncer.close()
    commit._writer.syncer = WalSyncer(tmp_path / "gone" / "ledger.db")  # its log cannot open
    results, _ = deliver_all(commit, ledger, range(1, 4))
    assert [str(r) for r in results] == ["the ledger's log could not be synced"] * 3
    assert all(isinstance(r, LedgerError) for r in results)


def test_the_sync_helper_ends_with_the_writer(ledger: SqliteLedger, make_commit) -> None:
    commit = make_commit()
    helper = commit._writer.syncer
    deliver_all(commit, ledger, range(1, 3))
    assert psutil.pid_exists(helper.pid)
    commit.close()
    assert not psutil.pid_exists(helper.pid)


def test_the_sync_helper_yields_the_cpu_to_the_edge(ledger: SqliteLedger, make_commit) -> None:
    """The helper runs HELPER_NICE steps nicer than the edge (its syncs wait for the event
    loop instead of preempting it); measured by the kernel, after it has answered a sync."""
    commit = make_commit()
    helper = commit._writer.syncer
    deliver_all(commit, ledger, range(1, 3))
    edge_nice = os.getpriority(os.PRIO_PROCESS, 0)
    assert psutil.Process(helper.pid).nice() == min(19, edge_nice + HELPER_NICE) != edge_nice
