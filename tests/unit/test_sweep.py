"""The registry sweep: its pure decision, and the handler through a real dispatcher and ledger."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_hooks.functions.mlflow_webhook import event_from_mlflow
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.domain.sweep import (
    RegistryChange,
    SweepCursor,
    SweepRules,
    decide,
    start_ms,
)
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import MemoryRegistry, dispatcher_over

RULES = SweepRules("mlflow", None, "challenger", "champion", "mlops.promote")
NOW_MS = 1_800_000_000_000
HOUR = 3_600_000


def created(model: str, version: str, at_ms: int) -> RegistryChange:
    return RegistryChange("version_created", model, version, at_ms)


def webhook(entity_action: str, data: dict) -> events.Event:
    entity, action = entity_action.rsplit(".", 1)
    body = json.dumps({"entity": entity, "action": action, "data": data}).encode()
    return event_from_mlflow(body, "delivery-1", Settings())


def test_the_sweep_raises_what_the_webhooks_would_have_with_their_keys() -> None:
    found = [
        created("churn", "3", NOW_MS - 1000),
        RegistryChange("alias", "churn", "2", value="challenger"),
        RegistryChange("tag", "fraud", "7", value="champion"),
    ]
    decision = decide(found, SweepCursor(NOW_MS - HOUR), RULES, start=NOW_MS - HOUR)
    keys = {e.key for e in decision.events}
    assert keys == {
        webhook("model_version.created", {"name": "churn", "version": "3"}).key,
        webhook(
            "model_version_alias.created", {"name": "churn", "version": "2", "alias": "challenger"}
        ).key,
        webhook(
            "model_version_tag.set",
            {"name": "fraud", "version": "7", "key": "mlops.promote", "value": "champion"},
        ).key,
    }
    assert all(e.source is Source.SWEEP for e in decision.events)
    assert decision.counts == {"model_registered": 1, "promotion_requested": 2}


def test_a_second_sweep_raises_nothing_again_and_a_new_request_once() -> None:
    found = [created("churn", "1", NOW_MS - 5000), created("churn", "2", NOW_MS - 10)]
    first = decide(found, SweepCursor(NOW_MS - HOUR), RULES, start=NOW_MS - HOUR)
    assert len(first.events) == 2
    # the watermark trails the newest version by the overlap, which the cursor remembers
    assert first.cursor.created_ms == NOW_MS - 10 - RULES.overlap_ms
    cursor = SweepCursor.from_json(first.cursor.to_json())
    assert cursor == first.cursor
    start = start_ms(cursor, now_ms=NOW_MS, lookback_ms=24 * HOUR, since_ms=None)
    again = decide(found, cursor, RULES, start=start)
    assert again.events == []
    asked = [*found, RegistryChange("alias", "churn", "2", value="challenger")]
    third = decide(asked, again.cursor, RULES, start=start)
    assert [e.kind for e in third.events] == [EventKind.PROMOTION_REQUESTED]
    assert decide(asked, third.cursor, RULES, start=start).events == []


def test_a_first_sweep_takes_old_requests_as_they_are_unless_asked_since() -> None:
    found = [
        created("churn", "5", NOW_MS - 60_000),
        RegistryChange("alias", "churn", "5", value="challenger"),  # on a version it found
        RegistryChange("alias", "old", "1", value="challenger"),  # set before we watched
        RegistryChange("alias", "old", "1", value="champion"),  # not a request
    ]
    start = start_ms(None, now_ms=NOW_MS, lookback_ms=24 * HOUR, since_ms=None)
    assert start == NOW_MS - 24 * HOUR
    first = decide(found, None, RULES, start=start)
    assert {(e.kind.value, e.model) for e in first.events} == {
        ("model_registered", "churn"),
        ("promotion_requested", "churn"),
    }
    assert first.baseline == 1
    since = decide(found, first.cursor, RULES, start=0, explicit=True)
    assert {(e.kind.value, e.model) for e in since.events} == {
        ("model_registered", "churn"),
        ("promotion_requested", "churn"),
        ("promotion_requested", "old"),
    }


def test_the_look_back_bounds_a_catch_up_and_an_unreadable_cursor_restarts_it() -> None:
    old = SweepCursor(NOW_MS - 30 * 24 * HOUR)
    assert start_ms(old, now_ms=NOW_MS, lookback_ms=24 * HOUR, since_ms=None) == NOW_MS - 24 * HOUR
    assert start_ms(old, now_ms=NOW_MS, lookback_ms=HOUR, since_ms=5) == 5
    assert SweepCursor.from_json("{not json") is None
    assert SweepCursor.from_json('{"recent": []}') is None


def test_sweep_through_the_ledger_records_each_fact_once_and_saves_the_cursor(
    tmp_path: Path,
) -> None:
    registry = MemoryRegistry()
    for version in ("1", "2", "3"):
        registry.add("churn", version, None)
        registry.created_ms[("churn", version)] = int(1_800_000_000_000 - 1000 + int(version))
    dispatcher, ledger = dispatcher_over(tmp_path, registries={"mlflow": registry})
    try:
        # a webhook already delivered v2: the sweep's v2 is the same event
        dispatcher.submit(events.model_registered(Source.MLFLOW, "churn", "2"))
        tick = events.action("sweep", {"since": None}, "r1", user="test")
        done = dispatcher.process(dispatcher.submit(tick).record.id)
        assert done.status is Status.DONE, done.last_error
        assert done.outcome["data"]["sweep:mlflow"]["found"] == 3
        registered = ledger.list(kind=EventKind.MODEL_REGISTERED)
        assert sorted(r.event.version for r in registered) == ["1", "2", "3"]
        assert ledger.get_cursor("sweep:mlflow") is not None
        again = events.action("sweep", {"since": None}, "r2", user="test")
        second = dispatcher.process(dispatcher.submit(again).record.id)
        assert second.outcome["emitted"] == [] and registry.scans == 2
        assert len(ledger.list(kind=EventKind.MODEL_REGISTERED)) == 3
    finally:
        ledger.close()


def test_an_unreachable_registry_is_reported_and_the_others_still_swept(tmp_path: Path) -> None:
    class Down(MemoryRegistry):
        def changes_since(self, since_ms, *, aliases, promote_tag):
            raise ConnectionError("registry is down")

    up = MemoryRegistry()
    up.add("churn", "1", None)
    up.created_ms[("churn", "1")] = 1_800_000_000_000 - 5
    dispatcher, ledger = dispatcher_over(tmp_path, registries={"databricks": Down(), "mlflow": up})
    try:
        tick = events.action("sweep", {"since": None}, "r1", user="test")
        done = dispatcher.process(dispatcher.submit(tick).record.id)
        assert done.outcome["result"] == "incomplete"
        assert "sweep:databricks: ConnectionError: registry is down" in done.outcome["summary"]
        assert ledger.get_cursor("sweep:databricks") is None
        assert [r.event.model for r in ledger.list(kind=EventKind.MODEL_REGISTERED)] == ["churn"]
    finally:
        ledger.close()


def test_trigger_updates_map_to_the_sweeps_events_once_each() -> None:
    import json

    import pytest

    from mlops_hooks.shared.domain.events import Source
    from mlops_hooks.shared.domain.sweep import SweepRules, UpdatesError, trigger_events

    rules = SweepRules(
        "databricks", None, "challenger", "champion", "mlops.promote", source=Source.MODEL_TRIGGER
    )
    updates = [
        {"full_name": "m.s.churn", "version": 4},
        {"full_name": "m.s.churn", "version": "4"},  # the same version twice in one batch
        {"full_name": "m.s.churn", "version": 4, "alias_name": "challenger"},
        {"full_name": "m.s.churn", "version": 3, "alias_name": "shadow"},  # not a request
        {"full_name": "m.s.new"},  # a model created
    ]
    found = trigger_events(json.dumps(updates), rules)
    assert [(e.kind.value, e.version, e.target) for e in found] == [
        ("model_registered", "4", None),
        ("promotion_requested", "4", "champion"),
    ]
    assert {e.source for e in found} == {Source.MODEL_TRIGGER}
    assert trigger_events("", rules) == []
    with pytest.raises(UpdatesError, match="not a version number"):
        trigger_events(json.dumps([{"full_name": "m.s.x", "version": True}]), rules)


def test_one_sweep_at_a_time_so_a_slow_registry_never_takes_every_worker(tmp_path: Path) -> None:
    from mlops_hooks.handlers.sweep import SWEEP_GUARD

    dispatcher, ledger = dispatcher_over(tmp_path, registries={"mlflow": MemoryRegistry()})
    try:
        now = dispatcher.clock.now()
        ledger.acquire(SWEEP_GUARD, "ev_slow", now=now, until=now + 300)  # a sweep still going
        tick = events.action("sweep", {"since": None}, "r1", user="test")
        skipped = dispatcher.process(dispatcher.submit(tick).record.id)
        assert skipped.status is Status.DONE and skipped.outcome["result"] == "skipped"
        assert skipped.outcome["summary"] == "a sweep is already running (ev_slow)"
        ledger.release(SWEEP_GUARD, "ev_slow")
        tick = events.action("sweep", {"since": None}, "r2", user="test")
        done = dispatcher.process(dispatcher.submit(tick).record.id)
        assert done.outcome["result"] == "done"
        # released when it ended: the next one runs
        again = events.action("sweep", {"since": None}, "r3", user="test")
        assert dispatcher.process(dispatcher.submit(again).record.id).outcome["result"] == "done"
    finally:
        ledger.close()
