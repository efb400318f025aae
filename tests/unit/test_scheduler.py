"""The scheduler over a real SQLite ledger and a fixed clock: idempotent ticks, one catch-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlops_hooks.functions.scheduler import RECONCILE_RULE, SWEEP_RULE, Rule, Scheduler
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import dispatcher_over


def at(hour: int, minute: int, second: int = 0) -> float:
    return datetime(2026, 11, 24, hour, minute, second, tzinfo=UTC).timestamp()


def keys(recorded) -> list[tuple[str, bool]]:
    return [(r.record.event.occurred_at.strftime("%H:%M"), r.created) for r in recorded]


def test_ticks_are_keyed_by_rule_and_time_and_missed_ones_caught_up_once(tmp_path: Path) -> None:
    dispatcher, ledger = dispatcher_over(tmp_path)
    rule = Rule("churn:nightly", "*/15 * * * *", "batch_inference", "churn")
    scheduler = Scheduler(dispatcher, [rule], poll_seconds=1)
    assert scheduler.tick(at(2, 7)) == []  # first seen at 02:07: 02:00 is not ticked
    assert keys(scheduler.tick(at(2, 15, 1))) == [("02:15", True)]
    assert scheduler.tick(at(2, 20)) == []  # already submitted by this process

    restarted = Scheduler(dispatcher, [rule], poll_seconds=1)  # serve restarted at 02:21
    assert keys(restarted.tick(at(2, 21))) == [("02:15", False)]  # a duplicate, no new event
    # down from 02:21 to 03:10: 02:30 ... 03:00 were missed; only 03:00 is ticked
    back = Scheduler(dispatcher, [rule], poll_seconds=1)
    assert keys(back.tick(at(3, 10))) == [("03:00", True)]
    ticks = ledger.list(kind=EventKind.SCHEDULED)
    assert sorted(r.event.occurred_at.strftime("%H:%M") for r in ticks) == ["02:15", "03:00"]
    assert {r.event.model for r in ticks} == {"churn"}
    assert {r.event.task for r in ticks} == {"batch_inference"}
    ledger.close()


def test_rules_come_from_the_policy_plus_the_reconcile_tick(tmp_path: Path) -> None:
    policy = parse_policy(
        """
models:
  - name: churn
    schedules:
      - {name: nightly, cron: "0 2 * * *", task: batch_inference}
  - name: "fraud-*"
    schedules:
      - {name: drift, cron: "0 3 * * *", task: drift_check, model: fraud-v2}
      - {name: unnamed, cron: "0 4 * * *", task: drift_check}
"""
    )
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        policy=policy,
        settings=Settings(state_dir=tmp_path, reconcile_cron="*/5 * * * *"),
        registries={},  # no registry: nothing to sweep, so no sweep rule (it is on by default)
    )
    rules = Scheduler.from_policy(dispatcher).rules
    assert [(r.name, r.task, r.model) for r in rules] == [
        ("churn:nightly", "batch_inference", "churn"),
        ("fraud-v2:drift", "drift_check", "fraud-v2"),
        (RECONCILE_RULE, "reconcile", None),
    ]
    assert any("schedules unnamed need a model" in w for w in policy.warnings())
    ledger.close()


def test_an_invalid_cron_is_a_policy_error() -> None:
    import pytest

    from mlops_hooks.shared.domain.policy import PolicyError

    with pytest.raises(PolicyError, match="not a valid cron expression"):
        parse_policy(
            "models:\n  - name: a\n"
            "    schedules: [{name: x, cron: '61 * * * *', task: reconcile}]\n"
        )


def test_the_sweep_ticks_every_interval_and_the_loop_wakes_for_it(tmp_path: Path) -> None:
    from tests.support.fakes import FixedClock, MemoryRegistry

    clock = FixedClock(at(6, 0, 3))
    dispatcher, ledger = dispatcher_over(  # the sweep is on by default: every 10 s
        tmp_path,
        clock=clock,
        settings=Settings(state_dir=tmp_path),
        registries={"mlflow": MemoryRegistry()},
    )
    scheduler = Scheduler.from_policy(dispatcher)
    sweep = next(r for r in scheduler.rules if r.name == SWEEP_RULE)
    assert (sweep.task, sweep.every_seconds) == ("sweep", 10)
    assert scheduler.tick(at(6, 0, 3)) == []  # first seen at 06:00:03: nothing due since
    ticked = scheduler.tick(at(6, 0, 11))
    assert [(r.record.event.task, r.record.event.occurred_at.second) for r in ticked] == [
        ("sweep", 10)
    ]
    assert scheduler.tick(at(6, 0, 19)) == []  # 06:00:10 already submitted
    clock.set(at(6, 0, 19))
    assert 1.0 <= scheduler._wait() <= 1.06  # wakes for 06:00:20, not after the 5 s poll
    ledger.close()


def test_the_sweep_is_off_with_zero_seconds(tmp_path: Path) -> None:
    from tests.support.fakes import MemoryRegistry

    dispatcher, ledger = dispatcher_over(
        tmp_path,
        settings=Settings(state_dir=tmp_path, sweep_seconds=0),
        registries={"mlflow": MemoryRegistry()},
    )
    assert SWEEP_RULE not in {r.name for r in Scheduler.from_policy(dispatcher).rules}
    ledger.close()


def test_a_look_back_shorter_than_two_ticks_is_refused_in_one_line() -> None:
    import pytest

    from mlops_hooks.shared.settings import SettingsError, settings_from

    # every sweep reads from max(watermark, now - look-back): a shorter look-back skips versions
    with pytest.raises(SettingsError, match=r"SWEEP_LOOKBACK_HOURS=0\.001 must cover") as caught:
        settings_from(sweep_lookback_hours=0.001)
    assert "\n" not in str(caught.value)
    assert settings_from(sweep_lookback_hours=0.001, sweep_seconds=0).sweep_seconds == 0
