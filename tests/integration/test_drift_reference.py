"""The drift reference stays pinned to the champion's training version of its feature table
(real Delta tables through delta-rs), after a retraining has written a newer version."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from deltalake import DeltaTable, write_deltalake

from mlops_hooks.shared.adapters.table_reader import TableReader
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.ports.registry import Lineage
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import FakeModel, MemoryRegistry, dispatcher_over
from tests.unit.test_drift import frame


def feature_and_scored_tables(tmp_path: Path, champion: str) -> tuple[str, str]:
    """A feature table whose version 0 is the champion's training data and version 1 a
    retraining on today's drifted data; the champion's scored rows of today."""
    features, scored_uri = str(tmp_path / "features"), str(tmp_path / "scored")
    write_deltalake(features, frame(8000, 1))  # the champion's training: version 0
    write_deltalake(features, frame(8000, 9, shift_income=6.0), mode="overwrite")
    assert DeltaTable(features).version() == 1
    today = frame(3000, 3, shift_income=6.0)
    today["prediction"], today["model_version"] = "No", champion
    today["score_date"] = date(2026, 11, 23)
    write_deltalake(scored_uri, today)
    return features, scored_uri


def test_a_retraining_never_moves_the_champions_drift_reference(tmp_path: Path) -> None:
    features, scored_uri = feature_and_scored_tables(tmp_path, "3")
    trained_on = 0

    registry = MemoryRegistry()
    registry.add("churn", "3", FakeModel(None), run_id="run-3")
    registry.set_alias("churn", "champion", "3")
    registry.runs["run-3"] = Lineage(
        run_exists=True,
        param_values={"features_table": features, "features_table_version": str(trained_on)},
    )
    policy = parse_policy(
        "models:\n  - name: churn\n    drift: {window_days: 1}\n"
        f"    jobs: {{batch_inference: {{params: {{output: {scored_uri}}}}}}}\n"
    )
    dispatcher, ledger = dispatcher_over(
        tmp_path / "state",
        registries={"mlflow": registry},
        tables=TableReader(),
        policy=policy,
        settings=Settings(state_dir=tmp_path / "state", tables_uri=str(tmp_path / "tables")),
    )
    tick = events.scheduled(
        "churn:drift", datetime(2026, 11, 24, 4, tzinfo=UTC), "drift_check", model="churn"
    )
    try:
        done = dispatcher.process(dispatcher.submit(tick).record.id)
    finally:
        ledger.close()
    # against version 0 the income shift is drift; against the latest version it would not be
    assert done.outcome["result"] == "drifted", done.outcome
    assert done.outcome["data"]["drifted"] == ["income"]


def test_a_champion_trained_elsewhere_is_checked_against_drift_reference(tmp_path: Path) -> None:
    """No train job, no features_table on the champion's run: drift.reference (a Delta table,
    pinned to a version) is the reference in-process, and is handed to the drift job."""
    from tests.support.fakes import MemoryJobs

    features, scored_uri = feature_and_scored_tables(tmp_path, "1")
    registry = MemoryRegistry()
    registry.add("churn", "1", FakeModel(None), run_id="elsewhere")
    registry.set_alias("churn", "champion", "1")
    registry.runs["elsewhere"] = Lineage(run_exists=True, param_values={})  # a notebook's run
    tick = events.scheduled(
        "churn:drift", datetime(2026, 11, 24, 4, tzinfo=UTC), "drift_check", model="churn"
    )

    def check(drift: str, folder: str):
        policy = parse_policy(
            f"models:\n  - name: churn\n    drift: {drift}\n"
            f"    jobs: {{batch_inference: {{params: {{output: {scored_uri}}}}}}}\n"
        )
        state = tmp_path / folder
        dispatcher, ledger = dispatcher_over(
            state,
            registries={"mlflow": registry},
            tables=TableReader(),
            policy=policy,
            settings=Settings(state_dir=state, tables_uri=str(tmp_path / "tables")),
        )
        jobs = MemoryJobs(ledger, dispatcher.clock)
        dispatcher.deps.jobs = jobs
        try:
            return dispatcher.process(dispatcher.submit(tick).record.id), jobs
        finally:
            ledger.close()

    unset, _ = check("{window_days: 1}", "unset")
    assert unset.status.value == "dead"
    assert "set drift.reference in the policy" in unset.last_error

    pinned = f"{{reference: {features}, reference_version: 0}}"
    done, _ = check(pinned, "pinned")
    assert done.outcome["result"] == "drifted" and done.outcome["data"]["drifted"] == ["income"]
    latest, _ = check(f"{{reference: {features}}}", "latest")  # today's shifted data: no drift
    assert latest.outcome["result"] == "no_drift", latest.outcome

    launched, jobs = check(
        f"{{reference: {features}, reference_version: 0, in_process_max_rows: 0}}", "job"
    )
    assert launched.outcome["result"] == "launched"
    [(job, params)] = jobs.launched
    assert job == "drift_check"
    assert params["reference"] == features and params["reference_version"] == "0"
