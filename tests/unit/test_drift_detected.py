"""drift_detected over port fakes: cooldown, one retraining at a time, what is notified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.drift import compare_frames
from mlops_hooks.shared.domain.drift_check import alarm_message, details_of
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.ports.ledger import Status
from tests.support.fakes import FakeModel, MemoryJobs, MemoryRegistry, dispatcher_over
from tests.unit.test_drift import frame

HOUR = 3600.0
T0 = 1_800_000_000.0
POLICY = """
models:
  - name: churn
    drift: {cooldown_hours: 24}
    data: {id_columns: [customerID]}
    jobs: {train: {params: {data: "s3://landing/churn/all/"}}}
"""


@pytest.fixture
def setup(tmp_path: Path):
    registry = MemoryRegistry()
    registry.add("churn", "3", FakeModel(None), run_id="run-3")
    dispatcher, ledger = dispatcher_over(
        tmp_path, registries={"mlflow": registry}, policy=parse_policy(POLICY)
    )
    jobs = MemoryJobs(ledger, dispatcher.clock)
    dispatcher.deps.jobs = jobs
    yield dispatcher, jobs, registry
    ledger.close()


def alarm(dispatcher, at: float, *, details: dict | None = None):
    """A drift alarm at ``at``, as the SNS path delivers it (keyed by its state-change time)."""
    dispatcher.clock.set(at)
    payload = {"AlarmDescription": json.dumps(details)} if details else {}
    event = events.drift_detected("churn", f"{at:.0f}", payload=payload)
    return dispatcher.process(dispatcher.submit(event).record.id)


def test_five_alarms_within_the_cooldown_retrain_once(setup) -> None:
    dispatcher, jobs, _ = setup
    first = alarm(dispatcher, T0)
    assert first.outcome["result"] == "launched", first.outcome
    jobs.finish(first.outcome["data"]["run_id"])
    later = [alarm(dispatcher, T0 + h * HOUR) for h in (1, 2, 5, 23)]
    assert [r.outcome["result"] for r in later] == ["skipped"] * 4
    assert all("cooldown: churn was retrained at" in r.outcome["summary"] for r in later)
    assert len(jobs.launched) == 1
    job, params = jobs.launched[0]
    assert job == "train" and params["reason"] == "drift" and params["event_id"] == first.id
    assert params["data"] == "s3://landing/churn/all/" and params["id_columns"] == "customerID"
    # after the cooldown the next alarm retrains again
    assert alarm(dispatcher, T0 + 25 * HOUR).outcome["result"] == "launched"
    assert len(jobs.launched) == 2


def test_an_alarm_while_a_retraining_runs_starts_no_second_run(setup) -> None:
    dispatcher, jobs, _ = setup
    first = alarm(dispatcher, T0)
    running = alarm(dispatcher, T0 + 30 * HOUR)  # past the cooldown, but still running
    assert running.outcome["result"] == "skipped"
    assert "is running (run mem-1)" in running.outcome["summary"]
    jobs.finish(first.outcome["data"]["run_id"])
    assert alarm(dispatcher, T0 + 31 * HOUR).outcome["result"] == "launched"
    assert len(jobs.launched) == 2


def test_the_checks_details_reach_the_run_tags_and_slack_with_histograms(setup) -> None:
    dispatcher, jobs, registry = setup
    reference, current = frame(5000, 1), frame(5000, 2, shift_income=6.0, plan_mix=(0.2, 0.3, 0.5))
    report = compare_frames(reference, current)
    from datetime import UTC, date, datetime

    message = alarm_message(
        report,
        model="churn",
        version="3",
        first=date(2026, 11, 23),
        last=date(2026, 11, 23),
        checked_at=datetime(2026, 11, 24, 3, tzinfo=UTC),
    )
    assert sorted(details_of(message)["drifted"]) == ["income", "plan"]
    done = alarm(dispatcher, T0, details=details_of(message))
    assert done.outcome["result"] == "launched"
    _, params = jobs.launched[0]
    assert params["tags"] in (
        "mlops.drift.features=income|plan",
        "mlops.drift.features=plan|income",
    )
    [note] = dispatcher.deps.notifier.messages
    assert note.title == "churn: drift detected, retraining" and note.verdict == "warning"
    assert any(p.startswith("income (numeric): PSI") for p in note.problems)
    assert ("champion", "v3") in note.facts
    assert registry.artifacts and registry.artifacts[0].startswith("run-3/mlops-hooks/drift/drift-")
    assert note.link_label == "Histograms of the worst features"
    assert note.link_url == f"http://registry/artifacts/{registry.artifacts[0]}"


def test_without_data_to_retrain_on_the_event_is_dead_and_the_guard_free(
    setup, tmp_path: Path
) -> None:
    dispatcher, _, _ = setup
    dispatcher.deps.policy = parse_policy("models:\n  - name: churn\n")
    dead = alarm(dispatcher, T0)
    assert dead.status is Status.DEAD and "no data to retrain churn on" in dead.last_error
    assert dispatcher.ledger.acquire("retrain:churn", "someone", now=T0).held_by("someone")
