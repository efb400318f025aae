"""One contract, two ledgers: SQLite (file) and DynamoDB (moto in server mode, over HTTP)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.ports.ledger import Ledger, LedgerError, Status

T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "dynamodb"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger

        led: Ledger = SqliteLedger(tmp_path / "ledger.db")
    else:
        from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger

        endpoint = request.getfixturevalue("moto_server")
        led = DynamoDBLedger(f"ledger-{uuid.uuid4().hex[:8]}", endpoint_url=endpoint, create=True)
    yield led
    led.close()


def registered(version: str = "1"):
    return events.model_registered(Source.MLFLOW, "churn", version, delivery_id="d1")


def test_record_once_by_key_and_count_deliveries(ledger: Ledger) -> None:
    first = ledger.record(registered(), now=T0)
    again = ledger.record(registered(), now=T0 + 1)
    assert first.created and not again.created
    assert again.record.id == first.record.id
    assert again.record.deliveries == 2
    assert [r.id for r in ledger.list()] == [first.record.id]
    record = ledger.get(first.record.id)
    assert record is not None
    assert record.status is Status.RECEIVED
    assert record.event.model == "churn" and record.event.version == "1"


@pytest.mark.parametrize(
    "event",
    [registered(), events.ignored(Source.MLFLOW, "delivery-9", "MLflow prompt.created")],
    ids=["received", "ignored"],
)
def test_a_first_delivery_answers_with_the_record_the_ledger_stored(ledger: Ledger, event) -> None:
    """A first delivery's record is built from the event in hand, and only when read
    (Recorded.first): it must be the record a read-back gives, field for field."""
    first = ledger.record(event, now=T0)
    stored = ledger.get(event.id)
    assert first.created and stored is not None
    assert (first.id, first.kind, first.status) == (stored.id, stored.kind, stored.status)
    assert first.record.model_dump() == stored.model_dump()
    again = ledger.record(event, now=T0 + 1)
    assert (again.id, again.kind, again.status) == (stored.id, stored.kind, stored.status)
    assert not again.created and again.record.deliveries == 2


def test_ignored_events_are_recorded_but_never_claimable(ledger: Ledger) -> None:
    ev = events.ignored(Source.MLFLOW, "delivery-9", "MLflow prompt.created is not acted on")
    rec = ledger.record(ev, now=T0).record
    assert rec.status is Status.IGNORED
    assert ledger.claim(None, worker="w", token="t", now=T0 + 10, lease_seconds=5) is None


def test_claim_is_exclusive_and_respects_due_time(ledger: Ledger) -> None:
    rec = ledger.record(registered(), now=T0).record
    assert ledger.claim(None, worker="w", token="t", now=T0 - 1, lease_seconds=5) is None
    got = ledger.claim(None, worker="w1", token="t1", now=T0, lease_seconds=30)
    assert got is not None and got.id == rec.id
    assert got.status is Status.RUNNING and got.attempts == 1 and got.worker == "w1"
    # leased: nobody else can take it until the lease runs out
    assert ledger.claim(rec.id, worker="w2", token="t2", now=T0 + 10, lease_seconds=30) is None


def test_concurrent_claims_give_the_event_to_exactly_one_worker(ledger: Ledger) -> None:
    if type(ledger).__name__ == "DynamoDBLedger":
        # moto's DynamoDB backend evaluates a ConditionExpression and applies the update
        # without a lock, so two server threads can both pass the check (DynamoDB itself is
        # atomic). The revision fencing is tested deterministically below instead.
        pytest.skip("moto's conditional writes are not atomic across threads")
    ledger.record(registered(), now=T0)
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def grab(n: int) -> None:
        barrier.wait()
        got = ledger.claim(None, worker=f"w{n}", token=f"t{n}", now=T0 + 1, lease_seconds=30)
        if got is not None:
            winners.append(got.worker or "")

    threads = [threading.Thread(target=grab, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_expired_lease_is_reclaimed_and_the_old_worker_cannot_finish(ledger: Ledger) -> None:
    rec = ledger.record(registered(), now=T0).record
    ledger.claim(rec.id, worker="dead", token="old", now=T0, lease_seconds=5)
    again = ledger.claim(None, worker="alive", token="new", now=T0 + 6, lease_seconds=5)
    assert again is not None and again.attempts == 2 and again.worker == "alive"
    with pytest.raises(LedgerError, match="lease lost"):
        ledger.complete(rec.id, token="old", outcome={}, now=T0 + 7)
    ledger.complete(rec.id, token="new", outcome={"result": "done"}, now=T0 + 7)
    final = ledger.get(rec.id)
    assert final is not None and final.status is Status.DONE
    assert final.outcome == {"result": "done"} and final.due_at is None
    assert any(h.get("note") == "lease expired; reclaimed" for h in final.history)


def test_heartbeat_extends_the_lease_only_for_its_holder(ledger: Ledger) -> None:
    rec = ledger.record(registered(), now=T0).record
    ledger.claim(rec.id, worker="w", token="tok", now=T0, lease_seconds=5)
    assert ledger.heartbeat(rec.id, token="tok", until=T0 + 20, now=T0 + 4)
    assert not ledger.heartbeat(rec.id, token="other", until=T0 + 99, now=T0 + 4)
    assert ledger.claim(None, worker="x", token="x", now=T0 + 10, lease_seconds=5) is None
    assert ledger.claim(None, worker="x", token="x", now=T0 + 21, lease_seconds=5) is not None


def test_fail_then_retry_then_dead(ledger: Ledger) -> None:
    rec = ledger.record(registered(), now=T0).record
    ledger.claim(rec.id, worker="w", token="a", now=T0, lease_seconds=5)
    assert (
        ledger.fail(rec.id, token="a", error="boom", retry_at=T0 + 4, now=T0 + 1) is Status.FAILED
    )
    failed = ledger.get(rec.id)
    assert failed is not None and failed.status is Status.FAILED and failed.last_error == "boom"
    assert ledger.claim(None, worker="w", token="b", now=T0 + 3, lease_seconds=5) is None
    assert ledger.claim(None, worker="w", token="b", now=T0 + 4, lease_seconds=5) is not None
    assert ledger.fail(rec.id, token="b", error="boom 2", retry_at=None, now=T0 + 5) is Status.DEAD
    dead = ledger.get(rec.id)
    assert dead is not None and dead.status is Status.DEAD and dead.attempts == 2
    assert ledger.claim(None, worker="w", token="c", now=T0 + 999, lease_seconds=5) is None


def test_requeue_resets_attempts_and_keeps_history(ledger: Ledger) -> None:
    rec = ledger.record(registered(), now=T0).record
    ledger.claim(rec.id, worker="w", token="a", now=T0, lease_seconds=5)
    ledger.fail(rec.id, token="a", error="boom", retry_at=None, now=T0 + 1)
    back = ledger.requeue(rec.id, now=T0 + 2)
    assert back.status is Status.RECEIVED and back.attempts == 0
    assert [h["status"] for h in back.history] == ["received", "running", "dead", "received"]
    assert ledger.claim(None, worker="w", token="b", now=T0 + 2, lease_seconds=5) is not None
    with pytest.raises(LedgerError):
        ledger.requeue("ev_missing", now=T0)


def test_list_filters_by_status_and_kind_newest_first(ledger: Ledger) -> None:
    a = ledger.record(registered("1"), now=T0).record
    b = ledger.record(registered("2"), now=T0 + 1).record
    c = ledger.record(events.data_landed("bkt", "in/x.csv", "seq1"), now=T0 + 2).record
    ledger.claim(a.id, worker="w", token="t", now=T0 + 3, lease_seconds=5)
    ledger.complete(a.id, token="t", outcome={}, now=T0 + 3)
    assert [r.id for r in ledger.list()] == [c.id, b.id, a.id]
    assert [r.id for r in ledger.list(kind=EventKind.MODEL_REGISTERED)] == [b.id, a.id]
    assert [r.id for r in ledger.list(status=Status.DONE)] == [a.id]
    assert [r.id for r in ledger.list(limit=1)] == [c.id]


def test_a_claim_from_a_stale_read_loses_to_the_first(ledger: Ledger, monkeypatch) -> None:
    """Two workers read the same revision; only the first conditional write wins."""
    rec = ledger.record(registered(), now=T0).record
    if type(ledger).__name__ != "DynamoDBLedger":
        pytest.skip("SQLite claims inside one write transaction: no stale read to race")
    stale = ledger._item(rec.id)  # type: ignore[attr-defined]
    first = ledger.claim(None, worker="a", token="ta", now=T0 + 1, lease_seconds=30)
    monkeypatch.setattr(ledger, "_item", lambda _id: stale)
    second = ledger.claim(rec.id, worker="b", token="tb", now=T0 + 1, lease_seconds=30)
    assert first is not None and first.worker == "a" and second is None
    monkeypatch.undo()
    assert ledger.get(rec.id).worker == "a"


def test_a_guard_has_one_holder_until_it_lapses_or_is_released(ledger: Ledger) -> None:
    first = ledger.acquire("decision:ev_1", "ev_a", now=T0)
    assert first.held_by("ev_a") and first.since == T0 and first.until is None
    other = ledger.acquire("decision:ev_1", "ev_b", now=T0 + 5)
    assert other.holder == "ev_a" and other.since == T0  # first writer wins, for good
    again = ledger.acquire("decision:ev_1", "ev_a", now=T0 + 9)
    assert again.held_by("ev_a") and again.since == T0  # a retried holder passes again
    assert not ledger.release("decision:ev_1", "ev_b")  # only the holder releases
    assert ledger.release("decision:ev_1", "ev_a")
    assert ledger.acquire("decision:ev_1", "ev_b", now=T0 + 10).held_by("ev_b")

    timed = ledger.acquire("retrain:churn", "ev_c", now=T0, until=T0 + 60)
    assert timed.until == T0 + 60
    assert ledger.acquire("retrain:churn", "ev_d", now=T0 + 59).holder == "ev_c"
    lapsed = ledger.acquire("retrain:churn", "ev_d", now=T0 + 60, until=T0 + 120)
    assert lapsed.held_by("ev_d") and lapsed.since == T0 + 60
    # holds are not events: listings and claims never see them
    assert ledger.list() == []
    assert ledger.claim(None, worker="w", token="t", now=T0 + 999, lease_seconds=5) is None


def test_job_runs_are_saved_listed_newest_first_and_filtered_by_state(ledger: Ledger) -> None:
    from mlops_hooks.shared.ports.ledger import JobRun, RunState

    first = JobRun(run_id="r1", job="train", backend="local", started_at=T0, event_id="ev_1")
    second = JobRun(run_id="r2", job="batch_inference", backend="databricks", started_at=T0 + 5)
    ledger.save_run(first)
    ledger.save_run(second)
    assert [r.run_id for r in ledger.list_runs()] == ["r2", "r1"]
    ledger.save_run(first.model_copy(update={"state": RunState.SUCCESS, "ended_at": T0 + 60}))
    assert [r.run_id for r in ledger.list_runs(unfinished=True)] == ["r2"]
    saved = ledger.get_run("r1")
    assert saved is not None and saved.state is RunState.SUCCESS and saved.event_id == "ev_1"
    assert ledger.get_run("nope") is None
    assert ledger.list() == []  # runs are not events


def test_a_cursor_is_saved_replaced_and_is_not_an_event(ledger: Ledger) -> None:
    assert ledger.get_cursor("sweep:mlflow") is None
    ledger.save_cursor("sweep:mlflow", '{"created_ms": 1}', now=T0)
    ledger.save_cursor("sweep:mlflow", '{"created_ms": 2}', now=T0 + 1)
    ledger.save_cursor("sweep:databricks", '{"created_ms": 7}', now=T0 + 1)
    assert ledger.get_cursor("sweep:mlflow") == '{"created_ms": 2}'
    assert ledger.get_cursor("sweep:databricks") == '{"created_ms": 7}'
    assert ledger.list() == []  # cursors are not events
    assert ledger.claim(None, worker="w", token="t", now=T0 + 9, lease_seconds=5) is None


def test_due_ids_are_the_waiting_events_most_overdue_first(ledger: Ledger) -> None:
    first = ledger.record(registered("1"), now=T0).record
    second = ledger.record(registered("2"), now=T0 + 10).record
    ledger.record(events.ignored(Source.MLFLOW, "d9", "test"), now=T0)  # never due
    assert ledger.due_ids(T0 - 1) == []
    assert ledger.due_ids(T0 + 5) == [first.id]
    ledger.claim(second.id, worker="w", token="t", now=T0 + 20, lease_seconds=30)
    assert ledger.due_ids(T0 + 20) == [first.id]  # running under a live lease: not due
    assert ledger.due_ids(T0 + 60) == [first.id, second.id]  # its lease expired: due again


def test_dynamodb_reads_are_queries_and_ticks_and_finished_runs_expire(moto_server) -> None:
    import boto3

    from mlops_hooks.shared.adapters.ledger_dynamodb import TTL_ATTRIBUTE, DynamoDBLedger
    from mlops_hooks.shared.ports.ledger import JobRun, RunState

    name = f"ttl-{uuid.uuid4().hex[:8]}"
    led = DynamoDBLedger(name, endpoint_url=moto_server, create=True, tick_retention_days=1)
    client = boto3.client("dynamodb", endpoint_url=moto_server)
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}
    from datetime import UTC, datetime

    tick = events.scheduled("reconcile", datetime(2026, 11, 23, 6, tzinfo=UTC), "reconcile")
    nightly = events.scheduled("nightly", datetime(2026, 11, 23, 2, tzinfo=UTC), "batch_inference")
    sweep = events.scheduled("sweep", datetime(2026, 11, 23, 6, tzinfo=UTC), "sweep")
    tick_id = led.record(tick, now=T0).record.id
    sweep_id = led.record(sweep, now=T0).record.id
    nightly_id = led.record(nightly, now=T0).record.id
    raw = {
        i: client.get_item(TableName=name, Key={"id": {"S": i}})["Item"]
        for i in (tick_id, sweep_id, nightly_id)
    }
    assert int(raw[tick_id][TTL_ATTRIBUTE]["N"]) == int(T0 + 86400)
    assert int(raw[sweep_id][TTL_ATTRIBUTE]["N"]) == int(T0 + 86400)
    assert TTL_ATTRIBUTE not in raw[nightly_id]  # the audit trail stays
    led.save_run(JobRun(run_id="a", job="train", backend="local", started_at=T0))
    led.save_run(
        JobRun(
            run_id="b",
            job="train",
            backend="local",
            started_at=T0 + 1,
            state=RunState.SUCCESS,
            ended_at=T0 + 5,
        )
    )
    assert [r.run_id for r in led.list_runs()] == ["b", "a"]
    assert [r.run_id for r in led.list_runs(unfinished=True)] == ["a"]
    run_b = client.get_item(TableName=name, Key={"id": {"S": "run#b"}})["Item"]
    assert int(run_b[TTL_ATTRIBUTE]["N"]) == int(T0 + 5 + 90 * 86400)
    later = led.record(registered("5"), now=T0 + 30).record.id  # listed newest first
    assert led.list(limit=10)[0].id == later
    assert {r.id for r in led.list(kind=EventKind.SCHEDULED)} == {tick_id, sweep_id, nightly_id}
    assert [r.id for r in led.list(status=Status.RECEIVED, kind=EventKind.MODEL_REGISTERED)] == [
        later
    ]
    led.close()


def test_listings_leave_out_own_writes_and_housekeeping_ticks_unless_asked(
    ledger: Ledger,
) -> None:
    """A sweep every 10 s must not bury the events people look for: both ledgers filter
    before the limit, so the page is full of what is listed by default."""
    from datetime import UTC, datetime, timedelta

    wanted = ledger.record(registered("7"), now=T0).record.id
    echo = events.ignored(Source.MLFLOW, "d-echo", f"{events.OWN_WRITE}: tag mlops.validation")
    echo_id = ledger.record(echo, now=T0 + 1).record.id
    start = datetime(2026, 11, 23, 6, tzinfo=UTC)
    ticks = [
        ledger.record(
            events.scheduled(rule, start + timedelta(seconds=10 * i), rule), now=T0 + 2 + i
        ).record.id
        for i in range(60)
        for rule in ("sweep", "reconcile")
    ]
    nightly = events.scheduled("nightly", start, "batch_inference")
    nightly_id = ledger.record(nightly, now=T0 + 100).record.id
    assert [r.id for r in ledger.list(limit=2, everything=False)] == [nightly_id, wanted]
    assert [r.id for r in ledger.list(kind=EventKind.SCHEDULED, limit=5, everything=False)] == [
        nightly_id
    ]
    everything = [r.id for r in ledger.list(limit=1000)]
    assert echo_id in everything and set(ticks) <= set(everything) and len(everything) == 123


def test_sqlite_expires_finished_housekeeping_ticks_after_their_retention(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger

    led = SqliteLedger(tmp_path / "ledger.db", tick_retention_days=1)
    when = datetime(2026, 11, 23, 6, tzinfo=UTC)
    old_sweep = led.record(events.scheduled("sweep", when, "sweep"), now=T0).record.id
    nightly = led.record(events.scheduled("n", when, "batch_inference"), now=T0).record.id
    waiting = led.record(events.scheduled("reconcile", when, "reconcile"), now=T0).record.id
    assert led.claim(old_sweep, worker="w", token="t", now=T0, lease_seconds=60) is not None
    led.complete(old_sweep, token="t", outcome={}, now=T0)
    fresh = led.record(events.scheduled("sweep", when.replace(hour=7), "sweep"), now=T0 + 86_000)
    assert led.expire_ticks(now=T0 + 86_401) == 1  # only the finished one past a day
    left = {r.id for r in led.list(limit=100)}
    assert left == {nightly, waiting, fresh.record.id}  # unfinished ticks and the audit stay
    assert led.expire_ticks(now=T0 + 86_401) == 0
    led.close()


def test_events_by_model_the_models_known_and_an_events_children(ledger: Ledger) -> None:
    """What the web UI asks: one model's events (newest first, by kind), every model known,
    and the events one event emitted."""
    model = f"m-{uuid.uuid4().hex[:6]}"
    other = f"n-{uuid.uuid4().hex[:6]}"
    first = events.model_registered(Source.MLFLOW, model, "1")
    second = events.model_registered(Source.MLFLOW, model, "2")
    theirs = events.model_registered(Source.MLFLOW, other, "1")
    child = events.promotion_requested(Source.HANDLER, model, "2", "champion", parent_id=second.id)
    for n, event in enumerate((first, theirs, second, child)):
        ledger.record(event, now=1000.0 + n)
    mine = ledger.list(model=model, kind=EventKind.MODEL_REGISTERED)
    assert [r.version for r in mine] == ["2", "1"]
    assert [r.id for r in ledger.list(model=model, limit=1)] == [child.id]
    assert {model, other} <= set(ledger.models())
    assert [r.id for r in ledger.children(second.id)] == [child.id]
    assert ledger.children(first.id) == []
