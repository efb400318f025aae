"""Commands as events (handlers/action.py) through the real dispatcher and ledger, over fakes;
and the handlers' pure decisions, tested on values alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops_hooks.handlers.action import RollbackPlan, plan_rollback
from mlops_hooks.handlers.model_registered import plan
from mlops_hooks.handlers.promotion_requested import asks_reviewers
from mlops_hooks.shared.domain import events, tags
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.domain.validation import CheckResult, Validation
from mlops_hooks.shared.ports.ledger import Status
from tests.support.fakes import Constant, FakeModel, MemoryRegistry, dispatcher_over


class FlakyRegistry(MemoryRegistry):
    """Fails once right after moving the champion alias: a crash in the middle of a rollback."""

    fail_tags_once: bool = True

    def set_tags(self, name, version, values) -> None:
        if self.fail_tags_once:
            self.fail_tags_once = False
            raise ConnectionError("registry went away")
        super().set_tags(name, version, values)


def action(command: str, request: str = "r1", **arguments):
    return events.action(command, arguments, request, user="ada@laptop")


@pytest.fixture
def registry() -> MemoryRegistry:
    registry = FlakyRegistry()
    for version in ("1", "2"):
        registry.add("churn", version, FakeModel(Constant("No"), None))
    registry.aliases[("churn", "champion")] = "2"
    registry.aliases[("churn", "previous_champion")] = "1"
    return registry


def test_a_rollback_interrupted_halfway_is_finished_not_swapped_back(
    tmp_path: Path, registry: MemoryRegistry
) -> None:
    dispatcher, ledger = dispatcher_over(tmp_path, registries={"mlflow": registry})
    recorded = dispatcher.submit(action("rollback", model="churn", registry="mlflow"))
    first = dispatcher.process(recorded.record.id)
    assert first.status is Status.FAILED and "registry went away" in first.last_error
    # half done: champion moved to v1, previous still v1 (the tag write failed after it)
    assert registry.get_alias("churn", "champion") == "1"
    ledger._conn.execute("UPDATE events SET due_at = 0")  # the retry is due now
    again = dispatcher.process(recorded.record.id)
    assert again.status is Status.DONE, again.last_error
    assert registry.get_alias("churn", "champion") == "1"
    assert registry.get_alias("churn", "previous_champion") == "2"
    assert registry.get_version("churn", "2").tags[tags.PROMOTION] == "rolled_back"
    assert again.outcome["data"] == {"model": "churn", "champion": "1", "previous": "2"}
    ledger.close()


def test_the_same_request_is_one_event_and_a_new_one_another(
    tmp_path: Path, registry: MemoryRegistry
) -> None:
    registry.fail_tags_once = False
    dispatcher, ledger = dispatcher_over(tmp_path, registries={"mlflow": registry})
    first = dispatcher.submit(action("rollback", model="churn"))
    retried = dispatcher.submit(action("rollback", model="churn"))
    assert retried.created is False and retried.record.id == first.record.id
    dispatcher.process(first.record.id)
    assert registry.get_alias("churn", "champion") == "1"
    other = dispatcher.submit(action("rollback", "r2", model="churn"))
    assert other.created and dispatcher.process(other.record.id).status is Status.DONE
    assert registry.get_alias("churn", "champion") == "2"  # swapped back by the new request
    record = ledger.get(first.record.id)
    assert record.source == "cli" and record.event.payload["user"] == "ada@laptop"
    assert record.kind is EventKind.ACTION and record.deliveries == 2
    ledger.close()


def test_replay_requeues_its_target_and_wakes_it(tmp_path: Path, registry) -> None:
    dispatcher, ledger = dispatcher_over(tmp_path, registries={"mlflow": registry}, handlers={})
    target = dispatcher.submit(events.drift_detected("churn", "w1")).record
    dispatcher.process(target.id)  # no handler: skipped, done
    assert ledger.get(target.id).status is Status.DONE
    from mlops_hooks.handlers import BUILTIN

    dispatcher.handlers[EventKind.ACTION] = BUILTIN[EventKind.ACTION]
    replay = dispatcher.submit(action("replay", event_id=target.id)).record
    done = dispatcher.process(replay.id)
    assert done.status is Status.DONE and done.outcome["result"] == "queued"
    assert ledger.get(target.id).status is Status.RECEIVED
    assert dispatcher.queue.ids[-1] == target.id  # woken after the replay completed
    missing = dispatcher.submit(action("replay", "r9", event_id="ev_nope")).record
    dead = dispatcher.process(missing.id)
    assert dead.status is Status.DEAD and "no event with id ev_nope" in dead.last_error
    ledger.close()


def test_an_unknown_command_goes_dead_at_once(tmp_path: Path) -> None:
    dispatcher, ledger = dispatcher_over(tmp_path)
    record = dispatcher.submit(action("format_disk")).record
    dead = dispatcher.process(record.id)
    assert dead.status is Status.DEAD and dead.attempts == 1
    assert "unknown command 'format_disk'" in dead.last_error
    ledger.close()


# --- pure decisions: values in, values out -------------------------------------------------


def test_a_rollback_in_an_mlflow_workspace_moves_that_workspaces_aliases(tmp_path: Path) -> None:
    registry = MemoryRegistry()
    for version in ("1", "2"):
        registry.add("churn", version, FakeModel(Constant("No"), None))
    registry.aliases.update({("churn", "champion"): "2", ("churn", "previous_champion"): "1"})
    dispatcher, _ = dispatcher_over(tmp_path, registries={"mlflow": registry})
    event = action("rollback", model="churn", registry="mlflow", workspace="team-a")
    done = dispatcher.process(dispatcher.submit(event).record.id)
    assert done.status is Status.DONE and registry.workspaces == ["team-a"]
    assert registry.get_alias("churn", "champion") == "1"


def test_plan_rollback() -> None:
    assert plan_rollback("churn", "3", "2", "previous_champion") == RollbackPlan("2", "3")
    assert plan_rollback("churn", None, "2", "previous_champion") == RollbackPlan("2", None)
    with pytest.raises(PermanentError, match="no 'previous_champion' alias"):
        plan_rollback("churn", "3", None, "previous_champion")
    assert RollbackPlan.of_text(RollbackPlan("2", "3").as_text()) == RollbackPlan("2", "3")


def check(name: str, status: str) -> CheckResult:
    return CheckResult(name=name, status=status, reason="", seconds=0.01)


def test_validation_plan_writes_the_verdict_last_and_requests_by_registry() -> None:
    policy = parse_policy("models: [{name: churn, promotion: {mode: auto}}]", "p").for_model(
        "churn"
    )
    passed = Validation("churn", "3", [check("loads", "passed")], data="holdout", seconds=0.1)
    done = plan(passed, policy, registry="mlflow", validated_at="T", event_id="ev_1")
    assert list(done.tags)[-1] == tags.VALIDATION and done.tags[tags.VALIDATION] == "passed"
    assert done.request_target == "champion" and done.outcome.result == "passed"
    on_workspace = plan(passed, policy, registry="databricks", validated_at="T", event_id="e")
    assert on_workspace.request_target == "Production"
    # Unity Catalog lives on the Databricks registry too, and promotes by alias
    uc = Validation("main.mlops.churn", "3", [check("loads", "passed")], data="h", seconds=0.1)
    on_uc = plan(uc, policy, registry="databricks", validated_at="T", event_id="e")
    assert on_uc.request_target == "champion"
    failed = Validation("churn", "4", [check("loads", "passed"), check("slices", "failed")])
    refused = plan(failed, policy, registry="mlflow", validated_at="T", event_id="ev_2")
    assert refused.request_target is None
    assert refused.tags[tags.VALIDATION_FAILED] == "slices"
    assert refused.outcome.summary == "validation failed: slices"


def test_manual_mode_asks_only_for_validated_challengers() -> None:
    manual = parse_policy("models: [{name: m, promotion: {mode: manual}}]", "p").for_model("m")
    auto = parse_policy("models: [{name: m, promotion: {mode: auto}}]", "p").for_model("m")
    assert asks_reviewers(manual, "passed") and not asks_reviewers(manual, "failed")
    assert not asks_reviewers(auto, "passed")


def test_the_retraining_guard_decides_on_values() -> None:
    from mlops_hooks.handlers.retraining import LAUNCH_GRACE_SECONDS, busy_reason
    from mlops_hooks.shared.ports.ledger import Hold, JobRun, RunState

    hold = Hold("retrain:churn", "ev_a", since=1000.0, until=None)
    run = JobRun(run_id="r1", job="train", backend="local", started_at=1000.0)
    launching = busy_reason("churn", hold, None, now=1010.0, cooldown_hours=1)
    assert launching.startswith("a retraining of churn is being launched")
    assert (
        busy_reason("churn", hold, None, now=1000 + LAUNCH_GRACE_SECONDS, cooldown_hours=1) is None
    )
    assert "is running (run r1)" in busy_reason("churn", hold, run, now=5000.0, cooldown_hours=1)
    ended = run.model_copy(update={"state": RunState.SUCCESS})
    assert busy_reason("churn", hold, ended, now=2000.0, cooldown_hours=1).startswith("cooldown")
    assert busy_reason("churn", hold, ended, now=1000 + 3600, cooldown_hours=1) is None


def test_a_click_is_refused_on_values() -> None:
    from mlops_hooks.handlers.approval import refuse_click

    base = dict(
        user="U_ALICE",
        approve=True,
        reviewers=["U_ALICE"],
        request_status=Status.DONE,
        request_result="awaiting_approval",
        verdict="passed",
        model="churn v2",
    )
    assert refuse_click(**base) is None
    assert refuse_click(**{**base, "user": "U_EVE"})[0] == "not_allowed"
    assert refuse_click(**{**base, "request_result": "promote"})[0] == "not_awaiting"
    assert refuse_click(**{**base, "request_status": Status.RUNNING})[0] == "not_awaiting"
    assert refuse_click(**{**base, "verdict": "failed"})[0] == "not_validated"
    assert refuse_click(**{**base, "verdict": "failed", "approve": False}) is None  # reject is fine


def test_the_tick_wakes_events_whose_wake_up_was_lost(tmp_path: Path) -> None:
    from tests.support.fakes import FixedClock

    clock = FixedClock()
    dispatcher, ledger = dispatcher_over(tmp_path, clock=clock)
    lost = dispatcher.ledger.record(events.drift_detected("churn", "w1"), now=clock.now())
    assert dispatcher.queue.ids == []  # recorded, but nobody was told
    tick = events.scheduled("reconcile", datetime(2026, 11, 23, 6, tzinfo=UTC), "reconcile")
    clock._now += dispatcher.deps.settings.rewake_after_seconds + 1
    done = dispatcher.process(dispatcher.submit(tick).record.id)
    assert done.status is Status.DONE, done.last_error
    assert done.outcome["data"]["woken"] == [lost.record.id]
    assert dispatcher.queue.ids[-1] == lost.record.id
    assert "1 waiting events woken again" in done.outcome["summary"]
    ledger.close()
