"""Concept drift on real Delta tables (delta-rs), labels in S3 (moto over HTTP): the inputs do
not move (the in-process drift check finds PSI below warn on every feature), what they mean
does (the labels flip); the champion's live roc_auc breaks its floor on 2 of the last 3 days:
performance_degraded, exactly one retraining within the cooldown, and the message says
there is no data drift. The same scoring with labels that still agree: no alarm at all."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import pandas as pd
from deltalake import DeltaTable, write_deltalake

from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.live import plan_scoring, score_frame
from tests.support.fakes import MemoryJobs, over_live_tables

POLICY = """
models:
  - name: churn
    holdout: {label: Churn, positive_label: "Yes"}
    data:
      id_columns: [customerID]
      labels: {bucket: outcomes, prefix: churn/, id_column: customerID, label_column: Churn}
    live: {floor: 0.65, violations: 2, window: 3, min_labelled_rows: 100}
    drift: {reference: REFERENCE, cooldown_hours: 24, window_days: 1}
    jobs:
      batch_inference: {params: {output: PREDICTIONS}}
      train: {params: {data: "s3://outcomes/training.csv"}}
"""
DAYS = [date(2026, 11, 20) + timedelta(days=i) for i in range(6)]


def scored(tmp_path: Path, shift: float = 0.0) -> tuple[str, str, pd.DataFrame, object]:
    """The champion scored the same kind of customers six days running (``shift``: customers
    of another kind, the data drifts); its training features are the drift reference."""
    train = churn_data.generate(3000, seed=31)
    model = churn_data.train_classifier(train)
    columns = list(model.feature_names_in_)

    def champion(frame: pd.DataFrame):
        proba = model.predict_proba(frame[columns])[:, list(model.classes_).index("Yes")]
        return model.predict(frame[columns]), proba

    plan, _ = plan_scoring("single", model="churn", champion="1", resolved={})
    frames, truth = [], []
    for n, day in enumerate(DAYS):
        customers = churn_data.generate(500, seed=40 + n, shift=shift)
        customers["customerID"] = [f"{day:%m%d}-{i}" for i in range(len(customers))]
        done = score_frame(customers.drop(columns=["Churn"]), {"1": champion}, plan)
        done["score_date"] = day
        frames.append(done)
        truth.append(customers[["customerID", "Churn"]].assign(score_date=day.isoformat()))
    predictions = str(tmp_path / "predictions")
    write_deltalake(predictions, pd.concat(frames, ignore_index=True))
    reference = str(tmp_path / "features")
    write_deltalake(reference, train.drop(columns=["Churn"]))
    return predictions, reference, pd.concat(truth, ignore_index=True), model


def flipped(labels: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """A concept shift: on ``days`` the same inputs now mean the opposite."""
    out = labels.copy()
    on = out["score_date"].isin([d.isoformat() for d in days])
    out.loc[on, "Churn"] = out.loc[on, "Churn"].map({"Yes": "No", "No": "Yes"})
    return out


def run(
    tmp_path: Path,
    moto_server: str,
    labels: pd.DataFrame,
    later: pd.DataFrame,
    *,
    shift: float = 0.0,
    data_drift: str = "no_drift",
):
    predictions, reference, _, _ = scored(tmp_path, shift)
    s3 = boto3.client("s3", endpoint_url=moto_server)
    bucket = "outcomes"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    dispatcher, ledger = over_live_tables(
        tmp_path,
        POLICY.replace("PREDICTIONS", predictions).replace("REFERENCE", reference),
        endpoint_url=moto_server,
    )
    jobs = MemoryJobs(ledger, dispatcher.clock)
    dispatcher.deps.jobs = jobs

    def drain() -> None:
        while dispatcher.process() is not None:
            pass

    # the data drift check of the last day (in process: a few thousand rows)
    check = events.scheduled(
        "churn:drift", datetime(2026, 11, 25, 6, tzinfo=UTC), "drift_check", model="churn"
    )
    drifted = dispatcher.process(dispatcher.submit(check).record.id)
    assert drifted.outcome["result"] == data_drift, drifted.outcome
    for key, frame in (("churn/a.csv", labels), ("churn/b.csv", later)):
        s3.put_object(Bucket=bucket, Key=f"{tmp_path.name}/{key}", Body=b"")  # other tests'
        s3.put_object(Bucket=bucket, Key=key, Body=frame.to_csv(index=False).encode())
        dispatcher.submit(events.data_landed(bucket, key, f"{tmp_path.name}-{key}"))
        drain()
        for launched in ledger.list_runs(unfinished=True):  # the retraining ends within the hour
            jobs.finish(launched.run_id)
        dispatcher.clock.set(dispatcher.clock.now() + 3600)  # an hour later: in the cooldown
    found = ledger.list(kind=events.EventKind.PERFORMANCE_DEGRADED)
    return found, jobs, dispatcher


def test_a_concept_shift_with_no_data_drift_retrains_once(moto_server: str, tmp_path: Path):
    _, _, truth, _ = scored(tmp_path / "probe")
    first_five = truth[truth["score_date"] < DAYS[5].isoformat()]
    shifted = flipped(first_five, DAYS[3:5])  # days 4 and 5: the labels flip
    sixth = flipped(truth[truth["score_date"] == DAYS[5].isoformat()], [DAYS[5]])
    try:
        degraded, jobs, dispatcher = run(tmp_path, moto_server, shifted, sixth)
        assert len(degraded) == 2  # as of day 5, then as of day 6: two facts
        outcomes = sorted(r.outcome["result"] for r in degraded)
        assert outcomes == ["launched", "skipped"]  # one retraining; the cooldown holds
        [skipped] = [r for r in degraded if r.outcome["result"] == "skipped"]
        assert skipped.outcome["summary"].startswith("cooldown: churn was retrained at ")
        [(job, params)] = jobs.launched
        assert job == "train" and params["reason"] == "performance"
        [message] = [m for m in dispatcher.deps.notifier.messages if "degraded" in m.title]
        assert "no data drift (worst PSI" in message.text and "a concept shift" in message.text
        facts = dict(message.facts)
        assert facts["champion"] == "v1" and "floor 0.65" in facts["rule"]
    finally:
        dispatcher.deps.ledger.close()


def test_labels_that_still_agree_raise_nothing(moto_server: str, tmp_path: Path) -> None:
    _, _, truth, _ = scored(tmp_path / "probe")
    first_five = truth[truth["score_date"] < DAYS[5].isoformat()]
    sixth = truth[truth["score_date"] == DAYS[5].isoformat()]
    try:
        degraded, jobs, dispatcher = run(tmp_path, moto_server, first_five, sixth)
        assert degraded == [] and jobs.launched == []
        live = DeltaTable(str(tmp_path / "tables" / "churn" / "live_metrics")).to_pandas()
        newest = live[live["computed_at"] == live["computed_at"].max()]
        assert len(newest) == 6 and (newest["labelled_rows"] == 500).all()
        assert (newest["roc_auc"] > 0.65).all()  # measured, and above the floor every day
    finally:
        dispatcher.deps.ledger.close()


def test_a_data_shift_with_unchanged_performance_is_data_drift_only(
    moto_server: str, tmp_path: Path
) -> None:
    """Customers of another kind, and labels the champion still gets right: the drift check
    says drift (and raises drift_detected); the live metrics stay above the floor, so no
    performance_degraded."""
    predictions, _, truth, _ = scored(tmp_path / "probe", shift=1.0)
    scored_rows = DeltaTable(predictions).to_pandas()
    agreeing = truth.copy()
    agreeing["Churn"] = scored_rows["prediction"].to_numpy()  # the outcome it predicted
    first_five = agreeing[agreeing["score_date"] < DAYS[5].isoformat()]
    sixth = agreeing[agreeing["score_date"] == DAYS[5].isoformat()]
    try:
        degraded, _, dispatcher = run(
            tmp_path, moto_server, first_five, sixth, shift=1.0, data_drift="drifted"
        )
        assert degraded == []
        drift = dispatcher.deps.ledger.list(kind=events.EventKind.DRIFT_DETECTED)
        assert len(drift) == 1  # data drift, reported as such
        live = DeltaTable(str(tmp_path / "tables" / "churn" / "live_metrics")).to_pandas()
        assert live["roc_auc"].notna().sum() >= 10  # measured on nearly every day
        assert not (live["roc_auc"] < 0.65).any()  # and never below the floor
    finally:
        dispatcher.deps.ledger.close()
