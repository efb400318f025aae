"""bench/ingress.py's scheduler figures: a thread that is always runnable spends each second
of wall time on a CPU or waiting for one; a sleeping one spends it on neither."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.ingress import cores, finish_checkpoint, scheduler_ns, times_scheduled

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")


def _cores_of(code: str) -> tuple[float, float]:
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.5)  # past the interpreter's start
        before = scheduler_ns(child.pid)
        started = time.perf_counter()
        time.sleep(1.0)
        after = scheduler_ns(child.pid)
        seconds = time.perf_counter() - started
    finally:
        child.kill()
        child.wait()
    assert before is not None and after is not None
    return cores(before, after, seconds)


def test_a_spinning_process_is_on_a_cpu_or_waiting_for_one_all_the_time() -> None:
    on_cpu, waiting = _cores_of("while True: pass")
    assert on_cpu > 0.2  # however busy the machine, it runs some of the time
    assert 0.85 < on_cpu + waiting < 1.1


def test_a_sleeping_process_is_neither() -> None:
    on_cpu, waiting = _cores_of("import time; time.sleep(60)")
    assert on_cpu + waiting < 0.05


def test_a_process_that_has_ended_has_no_figures() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert scheduler_ns(child.pid) is None


def test_a_thread_that_sleeps_often_is_put_on_a_cpu_each_time_it_wakes() -> None:
    """times_scheduled counts wake-ups: 200 sleeps of 1 ms are 200 or more times on a CPU; a
    process asleep the whole second is put on one (almost) never."""
    napping = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.001)"])
    asleep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)
        before = {p.pid: scheduler_ns(p.pid) for p in (napping, asleep)}
        time.sleep(1.0)
        after = {p.pid: scheduler_ns(p.pid) for p in (napping, asleep)}
    finally:
        for p in (napping, asleep):
            p.kill()
            p.wait()
    assert times_scheduled(before[napping.pid], after[napping.pid]) >= 200
    assert times_scheduled(before[asleep.pid], after[asleep.pid]) <= 2


def test_finish_checkpoint_copies_the_log_into_the_database_while_a_writer_keeps_it_open(
    tmp_path: Path,
) -> None:
    """What the edge's round left in its write-ahead log is in the database file afterwards,
    though the edge's own connection (here, the writer) stays open."""
    db = tmp_path / "ledger.db"
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, doc TEXT)")
        writer.executemany("INSERT INTO events (doc) VALUES (?)", [("x" * 500,)] * 2_000)
        before = db.stat().st_size
        seconds = finish_checkpoint(db)
        assert db.stat().st_size > before + 900_000  # 2,000 rows of 500 bytes, copied
        assert 0 <= seconds < 30
    finally:
        writer.close()
