"""Dispatcher over a real SQLite ledger, a fake clock and handlers defined here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.dispatch import Dispatcher, RetryPolicy
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event, EventKind, Source
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.ports.outcome import Outcome
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import Wakes


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqliteLedger]:
    led = SqliteLedger(tmp_path / "l.db")
    yield led
    led.close()


def make(ledger: SqliteLedger, clock: FakeClock, handlers, **settings) -> tuple[Dispatcher, Wakes]:
    wakes = Wakes()
    s = Settings(state_dir=Path("unused"), **settings)
    return bootstrap(s, ledger=ledger, queue=wakes, handlers=handlers, clock=clock), wakes


def registered(version: str = "1") -> Event:
    return events.model_registered(Source.MLFLOW, "churn", version)


def test_retry_policy_is_exponential_and_capped() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=2, max_seconds=10)
    assert [policy.delay(a) for a in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]


def test_failing_handler_backs_off_then_goes_dead_and_replay_runs_it_again(ledger, clock):
    calls: list[int] = []
    fail = {"on": True}

    def flaky(event: Event, deps) -> Outcome:
        calls.append(1)
        if fail["on"]:
            raise RuntimeError("registry unreachable")
        return Outcome(summary="ok")

    dispatcher, _ = make(
        ledger, clock, {EventKind.MODEL_REGISTERED: flaky}, max_attempts=3, retry_base_seconds=2
    )
    rec = dispatcher.submit(registered()).record
    seen = []
    for _ in range(10):
        got = dispatcher.process()
        if got is None:
            clock.t += 1  # not due yet: let time pass
            continue
        seen.append((got.status, got.attempts, got.due_at and got.due_at.timestamp() - clock.t))
        if got.status is Status.DEAD:
            break
    assert seen == [(Status.FAILED, 1, 2.0), (Status.FAILED, 2, 4.0), (Status.DEAD, 3, None)]
    assert len(calls) == 3
    dead = ledger.get(rec.id)
    assert dead is not None and dead.last_error == "RuntimeError: registry unreachable"

    fail["on"] = False
    dispatcher.replay(rec.id)
    done = dispatcher.process(rec.id)
    assert done is not None and done.status is Status.DONE and done.attempts == 1
    assert len(calls) == 4


def test_permanent_error_goes_dead_without_retry(ledger, clock):
    def broken(event, deps):
        raise PermanentError("policy names no holdout")

    dispatcher, _ = make(ledger, clock, {EventKind.MODEL_REGISTERED: broken})
    rec = dispatcher.submit(registered()).record
    got = dispatcher.process(rec.id)
    assert got is not None and got.status is Status.DEAD and got.attempts == 1


def test_event_without_handler_is_completed_as_skipped(ledger, clock):
    dispatcher, _ = make(ledger, clock, {})
    rec = dispatcher.submit(registered()).record
    got = dispatcher.process(rec.id)
    assert got is not None and got.status is Status.DONE
    assert got.outcome is not None and got.outcome["result"] == "skipped"


def test_duplicates_run_the_handler_once(ledger, clock):
    runs: list[str] = []
    dispatcher, wakes = make(
        ledger, clock, {EventKind.MODEL_REGISTERED: lambda e, d: runs.append(e.id) or Outcome()}
    )
    ids = {dispatcher.submit(registered()).record.id for _ in range(3)}
    while dispatcher.process() is not None:
        pass
    dispatcher.submit(registered())  # a late duplicate after processing
    assert dispatcher.process() is None
    assert len(ids) == 1 and runs == list(ids)
    # deliveries of a still-waiting event each wake a worker (repairs a lost wake-up);
    # the late duplicate of a finished event wakes nobody
    assert wakes.ids == list(ids) * 3
    rec = ledger.get(runs[0])
    assert rec is not None and rec.deliveries == 4


def test_emitted_events_go_through_the_ledger_with_their_parent(ledger, clock):
    def validate(event: Event, deps) -> Outcome:
        return Outcome(
            emit=[
                events.promotion_requested(
                    Source.HANDLER, event.model or "", event.version or "", "champion"
                )
            ]
        )

    seen: list[Event] = []
    dispatcher, wakes = make(
        ledger,
        clock,
        {
            EventKind.MODEL_REGISTERED: validate,
            EventKind.PROMOTION_REQUESTED: lambda e, d: seen.append(e) or Outcome(),
        },
    )
    parent = dispatcher.submit(registered()).record
    first = dispatcher.process()
    assert first is not None and first.outcome is not None
    child_id = first.outcome["emitted"][0]
    assert wakes.ids == [parent.id, child_id]
    second = dispatcher.process()
    assert second is not None and second.id == child_id and second.status is Status.DONE
    assert seen[0].parent_id == parent.id and seen[0].target == "champion"


def test_a_worker_that_died_mid_handler_is_replaced_after_its_lease(ledger, clock):
    runs: list[int] = []
    dispatcher, _ = make(
        ledger,
        clock,
        {EventKind.MODEL_REGISTERED: lambda e, d: runs.append(1) or Outcome()},
        lease_seconds=30,
    )
    rec = dispatcher.submit(registered()).record
    # a worker claims and "dies": nobody completes, nobody heartbeats
    ledger.claim(rec.id, worker="crashed", token="lost", now=clock.t, lease_seconds=30)
    assert dispatcher.process() is None
    clock.t += 31
    got = dispatcher.process()
    assert got is not None and got.status is Status.DONE and got.attempts == 2
    assert runs == [1]


def test_a_handler_that_outlives_its_lease_keeps_it_from_the_one_lease_thread(tmp_path: Path):
    """Real clock, a 0.6 s lease and a 1.5 s handler: renewed every 0.2 s, never reclaimed."""
    import time

    ledger = SqliteLedger(tmp_path / "l.db")
    rivals: list[object] = []
    keepers: list[threading.Thread | None] = []

    def slow(event: Event, deps) -> Outcome:
        keepers.append(dispatcher._leases._thread)  # this dispatcher's one lease thread
        deadline = time.time() + 1.5
        while time.time() < deadline:  # a rival worker keeps trying to take it over
            rivals.append(dispatcher.ledger.claim(
                event.id, worker="rival", token="r", now=time.time(), lease_seconds=0.6
            ))  # fmt: skip
            time.sleep(0.1)
        return Outcome(summary="slow")

    dispatcher = bootstrap(
        Settings(state_dir=tmp_path, lease_seconds=0.6),
        ledger=ledger,
        queue=Wakes(),
        handlers={EventKind.MODEL_REGISTERED: slow},
    )
    rec = dispatcher.submit(registered()).record
    done = dispatcher.process(rec.id)
    assert done is not None and done.status is Status.DONE and done.attempts == 1
    assert rivals and all(r is None for r in rivals)
    [keeper] = keepers
    assert keeper is not None
    keeper.join(timeout=1)  # idle: the lease thread ends by itself
    assert not keeper.is_alive()
    ledger.close()


def test_workers_give_a_busy_edge_more_time_than_each_event_took(tmp_path: Path) -> None:
    import time

    from mlops_hooks.shared.dispatch import WorkerPool

    ledger = SqliteLedger(tmp_path / "l.db")
    ran: list[float] = []

    def work(event: Event, deps) -> Outcome:
        ran.append(time.monotonic())
        time.sleep(0.02)
        return Outcome()

    def run_pool(busy: bool) -> float:
        ran.clear()
        pool = WorkerPool(size=1, poll_seconds=0.05, edge_busy=lambda: busy)
        dispatcher = bootstrap(
            Settings(state_dir=tmp_path), ledger=ledger, queue=pool,
            handlers={EventKind.MODEL_REGISTERED: work},
        )  # fmt: skip
        dispatcher.submit_many([registered(f"{busy}{n}") for n in range(6)])
        pool.start(dispatcher)
        while len(ran) < 6:
            time.sleep(0.01)
        pool.stop()
        return (ran[-1] - ran[0]) / 5

    idle_gap, busy_gap = run_pool(False), run_pool(True)
    assert idle_gap < 0.04  # back to back: 20 ms of work each
    assert busy_gap >= 0.055  # 20 ms of work, then 40 ms left to the edge
    ledger.close()


def test_a_handler_waits_for_the_warm_ups_imports(ledger, clock):
    """serve's warm-up holds ``warming`` while it imports MLflow; a handler racing those
    imports saw a partially initialised mlflow module, so it waits for them instead."""
    started = threading.Event()
    dispatcher, _ = make(
        ledger, clock, {EventKind.MODEL_REGISTERED: lambda e, d: started.set() or Outcome()}
    )
    event_id = dispatcher.submit(registered()).record.id
    worker = threading.Thread(target=dispatcher.process, args=(event_id,))
    with dispatcher.warming:  # the warm-up importing
        worker.start()
        assert not started.wait(0.3)  # claimed, waiting for the imports
        assert ledger.get(event_id).status is Status.RUNNING
    worker.join(timeout=10)
    assert started.is_set() and ledger.get(event_id).status is Status.DONE
