"""The scheduled drift check in-process, over port fakes: reference from the champion's run,
the last scoring window, monitoring rows, and a drift_detected event when over the threshold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.ports.registry import Lineage
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import FakeModel, MemoryJobs, MemoryRegistry, MemoryTables, dispatcher_over
from tests.unit.test_drift import frame

POLICY = """
models:
  - name: churn
"""


def scored(rows, seed: int, day: date, **shift) -> object:
    out = frame(rows, seed, **shift)
    out["prediction"], out["model_version"], out["score_date"] = "No", "3", day
    return out


def run_check(tmp_path: Path, current, *, in_process_max_rows: int = 1_000_000):
    registry = MemoryRegistry()
    registry.add("churn", "3", FakeModel(None), run_id="run-3")
    registry.set_alias("churn", "champion", "3")
    registry.runs["run-3"] = Lineage(
        run_exists=True,
        param_values={"features_table": "mem://features", "features_table_version": "4"},
    )
    tables = MemoryTables({"mem://features": frame(8000, 1), "mem://scored": current})
    policy = parse_policy(
        POLICY
        + f"    drift: {{window_days: 1, in_process_max_rows: {in_process_max_rows}}}\n"
        + "    jobs: {batch_inference: {params: {output: mem://scored}}}\n"
    )
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"mlflow": registry},
        tables=tables,
        policy=policy,
        settings=Settings(state_dir=tmp_path, tables_uri="mem://tables"),
    )
    dispatcher.deps.jobs = MemoryJobs(ledger, dispatcher.clock)
    tick = events.scheduled(
        "churn:drift", datetime(2026, 11, 24, 4, tzinfo=UTC), "drift_check", model="churn"
    )
    done = dispatcher.process(dispatcher.submit(tick).record.id)
    return done, dispatcher, tables, ledger


def test_drift_in_the_last_window_is_emitted_as_drift_detected(tmp_path: Path) -> None:
    old = scored(3000, 2, date(2026, 11, 22), shift_income=6.0)  # outside the window
    new = scored(3000, 3, date(2026, 11, 23), plan_mix=(0.2, 0.3, 0.5))
    current = pd.concat([old, new], ignore_index=True)
    done, _, tables, ledger = run_check(tmp_path, current)
    assert done.outcome["result"] == "drifted", done.outcome
    assert done.outcome["data"]["drifted"] == ["plan"]  # income drifted only the day before
    assert done.outcome["data"]["window"] == ["2026-11-23", "2026-11-23"]
    [emitted] = done.outcome["emitted"]
    alarm = ledger.get(emitted)
    assert alarm.kind is EventKind.DRIFT_DETECTED and alarm.event.model == "churn"
    assert alarm.event.payload["drifted"] == ["plan"]
    monitoring = tables.frames["mem://tables/churn/monitoring"]
    assert len(monitoring) == 6 and set(monitoring["model_version"]) == {"3"}
    assert "prediction" not in set(monitoring["feature"])  # scoring columns are not features
    ledger.close()


def test_a_large_table_goes_to_the_job(tmp_path: Path) -> None:
    done, dispatcher, _, ledger = run_check(
        tmp_path, scored(3000, 3, date(2026, 11, 23)), in_process_max_rows=100
    )
    assert done.outcome["result"] == "launched"
    [(job, params)] = dispatcher.deps.jobs.launched
    assert job == "drift_check" and params["current"] == "mem://scored"
    assert params["monitoring_table"] == "mem://tables/churn/monitoring"
    ledger.close()


def test_the_reference_is_the_policys_when_given_and_the_jobs_arguments_carry_it() -> None:
    from mlops_hooks.jobs.drift_check import arguments
    from mlops_hooks.shared.domain.drift_check import reference_of

    logged = {"features_table": "s3://b/features", "features_table_version": "4"}
    assert reference_of(logged) == ("s3://b/features", 4)
    assert reference_of(logged, given="s3://b/ref", given_version=2) == ("s3://b/ref", 2)
    assert reference_of({}, given="s3://b/ref") == ("s3://b/ref", None)
    args = arguments(
        [
            "--model",
            "m",
            "--current",
            "c",
            "--monitoring-table",
            "t",
            "--reference",
            "r",
            "--reference-version",
            "3",
        ]
    )
    assert (args.reference, args.reference_version) == ("r", "3")
