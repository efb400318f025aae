"""Labels land in S3 (moto over HTTP) under a model's data.labels prefix and are joined with the
shadow predictions (a real Delta table through delta-rs): the S3 event is a data_landed event
that becomes labels_landed; live metrics per version per day equal scikit-learn's; late labels
are joined when they arrive; a replayed event appends nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
from deltalake import DeltaTable, write_deltalake
from sklearn import metrics as m

from mlops_hooks.shared.adapters.table_reader import TableReader
from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.live import plan_scoring, score_frame
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import dispatcher_over
from tests.support.processes import cli

POLICY = """
models:
  - name: churn
    holdout: {label: Churn, positive_label: "Yes"}
    comparison: {metric: roc_auc}
    data:
      labels: {bucket: outcomes, prefix: churn/, id_column: customerID, label_column: Churn,
               expected_within_days: 7}
    jobs: {batch_inference: {params: {output: PREDICTIONS}}}
"""


def scored_days(tmp_path: Path) -> tuple[str, pd.DataFrame]:
    """v1 (served) and v2 (shadow) scored 400 customers on 23 and 24 Nov."""
    train = churn_data.generate(2000, seed=21)
    customers = churn_data.generate(400, seed=22)
    models = {
        "1": churn_data.train_classifier(train[["tenure", "MonthlyCharges", "Churn"]]),
        "2": churn_data.train_classifier(train),
    }

    def scorer(version: str):
        model = models[version]
        columns = [c for c in model.feature_names_in_]

        def run(frame: pd.DataFrame):
            proba = model.predict_proba(frame[columns])[:, list(model.classes_).index("Yes")]
            return model.predict(frame[columns]), proba

        return run

    plan, _ = plan_scoring("shadow", model="churn", champion="1", resolved={"challenger": "2"})
    frames = []
    for day in (date(2026, 11, 23), date(2026, 11, 24)):
        scored = score_frame(
            customers.drop(columns=["Churn"]), {v: scorer(v) for v in models}, plan
        )
        scored["score_date"] = day
        frames.append(scored)
    uri = str(tmp_path / "predictions")
    write_deltalake(uri, pd.concat(frames, ignore_index=True))
    return uri, customers


def test_labels_join_predictions_into_live_metrics(moto_server: str, tmp_path: Path) -> None:
    predictions, customers = scored_days(tmp_path)
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="outcomes")
    tables = str(tmp_path / "tables")
    settings = Settings(state_dir=tmp_path / "state", tables_uri=tables)
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        tables=TableReader(endpoint_url=moto_server),
        policy=parse_policy(POLICY.replace("PREDICTIONS", predictions)),
        settings=settings,
    )

    def land(key: str, frame: pd.DataFrame, at: datetime):
        s3.put_object(Bucket="outcomes", Key=key, Body=frame.to_csv(index=False).encode())
        event = events.data_landed("outcomes", key, key, occurred_at=at)
        first = dispatcher.process(dispatcher.submit(event).record.id)
        assert first.outcome["result"] == "labels", first.outcome
        [child] = first.outcome["emitted"]
        return dispatcher.process(child)

    truth = customers[["customerID", "Churn"]]
    day1 = truth.iloc[:300].assign(score_date="2026-11-23")
    extra = pd.DataFrame(
        {"customerID": ["NOPE-1", "NOPE-2", truth.iloc[0, 0]], "Churn": ["Yes", "No", "Yes"]}
    ).assign(score_date="2026-11-23")
    try:
        done = land("churn/day1.csv", pd.concat([day1, extra]), datetime(2026, 11, 25, tzinfo=UTC))
        [result] = done.outcome["data"]["models"]
        assert result["counts"] == {
            "predictions": 800,
            "labelled": 300,
            "unlabelled": 500,
            "duplicate_labels": 1,
            "unknown_ids": 2,
            "late_labels": 0,
        }
        live = DeltaTable(f"{tables}/churn/live_metrics").to_pandas()
        first = live[live["score_date"] == "2026-11-23"].set_index("version")
        assert first["labelled_rows"].tolist() == [300, 300] and first["rows"].tolist() == [
            400,
            400,
        ]
        # v2 on day 1, by scikit-learn on the same joined rows (the duplicate: its later label)
        labels = pd.concat([day1, extra]).drop_duplicates("customerID", keep="last")
        frame = DeltaTable(predictions).to_pandas()
        frame = frame[frame["score_date"].astype(str) == "2026-11-23"]
        joined = frame.merge(labels, on="customerID")
        y = joined["Churn"] == "Yes"
        v2 = [dict(s)["2"] for s in joined["scores"]]
        assert first.loc["2", "roc_auc"] == np.float64(m.roc_auc_score(y, v2))

        # day 2's labels, three weeks late: joined all the same, counted as late
        day2 = truth.iloc[:100].assign(score_date="2026-11-24")
        dispatcher.clock.set(dispatcher.clock.now() + 86400 * 20)
        done = land("churn/day2.csv", day2, datetime(2026, 12, 15, tzinfo=UTC))
        [result] = done.outcome["data"]["models"]
        assert result["counts"]["late_labels"] == 100 and result["counts"]["labelled"] == 400
        live = DeltaTable(f"{tables}/churn/live_metrics").to_pandas()
        newest = live[live["computed_at"] == live["computed_at"].max()]
        assert len(live) == 8 and len(newest) == 4  # 2 computations of 2 days x 2 versions
        assert (
            newest.set_index(["score_date", "version"]).loc[("2026-11-24", "1"), "labelled_rows"]
            == 100
        )

        # the CLI: the newest computation per day and version
        shown = cli("live", "churn", "--json", env={"MLOPS_HOOKS_TABLES_URI": tables}, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        records = json.loads(shown.stdout)
        assert [(r["score_date"], r["version"], r["arm"]) for r in records] == [
            ("2026-11-23", "1", "champion"),
            ("2026-11-23", "2", "shadow"),
            ("2026-11-24", "1", "champion"),
            ("2026-11-24", "2", "shadow"),
        ]
        assert [r["labelled_rows"] for r in records] == [300, 300, 100, 100]
        assert records[1]["roc_auc"] == first.loc["2", "roc_auc"]
        text = cli(
            "live", "churn", "--days", "1", env={"MLOPS_HOOKS_TABLES_URI": tables}, cwd=tmp_path
        )
        assert "2026-11-24" in text.stdout and "2026-11-23" not in text.stdout
        nothing = cli("live", "other", env={"MLOPS_HOOKS_TABLES_URI": tables}, cwd=tmp_path)
        assert nothing.returncode == 1 and "no live metrics of other yet" in nothing.stderr

        before = len(DeltaTable(f"{tables}/churn/labels").to_pandas())
        dispatcher.process(dispatcher.deps.ledger.requeue(done.id, now=1.9e9).id)
        assert len(DeltaTable(f"{tables}/churn/labels").to_pandas()) == before  # once
    finally:
        ledger.close()


def test_a_labels_table_read_on_a_schedule_joins_each_row_once(tmp_path: Path) -> None:
    """data.labels.table: each scheduled read joins the rows not joined before; a read with
    nothing new does nothing; rows appended to the table later are joined by the next read."""
    from tests.support.fakes import over_live_tables

    predictions, customers = scored_days(tmp_path)
    labels_table = str(tmp_path / "crm-outcomes")
    truth = customers[["customerID", "Churn"]].assign(score_date=date(2026, 11, 23))
    write_deltalake(labels_table, truth.iloc[:200].assign(landed_at=datetime(2026, 11, 24)))
    policy = POLICY.replace(
        "labels: {bucket: outcomes, prefix: churn/,", f"labels: {{table: {labels_table},"
    ).replace("PREDICTIONS", predictions)
    policy += "    schedules: [{name: outcomes, cron: '0 6 * * *', task: labels}]\n"
    tables = str(tmp_path / "tables")
    dispatcher, ledger = over_live_tables(tmp_path, policy)

    def tick(day: int):
        at = datetime(2026, 11, day, 6, tzinfo=UTC)
        event = events.scheduled("churn:outcomes", at, "labels", model="churn")
        return dispatcher.process(dispatcher.submit(event).record.id)

    try:
        first = tick(24)
        assert first.outcome["result"] == "joined", first.outcome
        [result] = first.outcome["data"]["models"]
        assert result["counts"]["labelled"] == 200 and result["counts"]["duplicate_labels"] == 0
        assert tick(25).outcome["result"] == "skipped"  # nothing new in the table
        write_deltalake(
            labels_table,
            truth.iloc[200:300].assign(landed_at=datetime(2026, 11, 25)),
            mode="append",
        )
        third = tick(26)
        [result] = third.outcome["data"]["models"]
        assert third.outcome["summary"].startswith("100 new labels from ")
        assert result["counts"]["labelled"] == 300 and result["counts"]["duplicate_labels"] == 0
        assert len(DeltaTable(f"{tables}/churn/labels").to_pandas()) == 300
    finally:
        ledger.close()
