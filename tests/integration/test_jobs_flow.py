"""Landed data to a scored table and back to training, on real components: moto S3 -> SQS ->
`serve` (its SQS ingest) -> data_landed -> the train job on local Spark (a LocalJobs subprocess)
-> a new version on the real MLflow server -> validated and, in auto mode with no champion,
promoted -> a scheduled batch_inference -> predictions in Delta, read back with deltalake ->
drifted inputs scored -> the drift_check job -> its alarm on SNS -> SQS -> drift_detected ->
train again -> version 2.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from deltalake import DeltaTable
from mlflow import MlflowClient

from mlops_hooks.shared.domain import churn_data
from tests.conftest import webhook_env
from tests.support.aws import bucket_notifying_queue
from tests.support.cli_here import cli_here
from tests.support.mlflow_models import version_with_alias
from tests.support.processes import Proc, cli, wait_for

# the waits ask through the CLI in this process (cli_here: the same code, without an interpreter
# that imports MLflow for each of the 30-odd polls; this file alone: 66 s of CPU instead of 88,
# beside the jobs being waited for), every 0.5 s; the commands a user reads the outcomes with
# (`jobs logs`, `drift`) run installed.
CLI_POLL = 0.5

POLICY = """
models:
  - name: MODEL
    checks:
      loads: {}
      signature: {}
      predictions: {}
      lineage: {}
      metrics: {thresholds: {roc_auc: {min: 0.6}}, evaluator: builtin}
    holdout: {uri: TABLES/MODEL/holdout, label: Churn, positive_label: "Yes"}
    promotion: {mode: auto}
    drift: {in_process_max_rows: 0}
    data:
      id_columns: [customerID]
      watch: [{bucket: BUCKET, prefix: landing/}]
      contract:
        required_columns: {Churn: string, tenure: integer, MonthlyCharges: float}
        min_rows: 100
    jobs:
      batch_inference: {params: {input: "s3://BUCKET/score/customers.csv"}}
"""


@pytest.mark.timeout(1200)  # four Spark jobs end to end: minutes on a slow 2-core machine
def test_landed_data_trains_a_validated_version_once_and_the_champion_scores_a_table(
    mlflow_server: Proc, moto_server: str, validating_serve, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    model, bucket = f"jobs-{suffix}", f"landing-{suffix}"
    s3 = boto3.client("s3", endpoint_url=moto_server)
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    queue_url = bucket_notifying_queue(s3, sqs, bucket, f"ingest-{suffix}")
    tables = tmp_path / "tables"
    policy = tmp_path / "mlops.yml"
    policy.write_text(
        POLICY.replace("MODEL", model).replace("BUCKET", bucket).replace("TABLES", str(tables))
    )
    sns = boto3.client("sns", endpoint_url=moto_server)
    topic = sns.create_topic(Name=f"alarms-{suffix}")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    env = {
        "MLOPS_HOOKS_ALARM_TOPIC_ARN": topic,
        "MLOPS_HOOKS_POLICY": str(policy),
        "MLOPS_HOOKS_INGEST_QUEUE_URL": queue_url,
        "AWS_ENDPOINT_URL": moto_server,
        "MLOPS_HOOKS_TABLES_URI": str(tables),
    }
    validating_serve(**env)
    state = tmp_path / "state-0"  # validating_serve's state folder for its first serve
    cli_env = webhook_env(mlflow_server, state, **env)
    client = MlflowClient(tracking_uri=mlflow_server.url)

    def events(kind: str) -> list[dict]:
        listed = cli_here("events", "list", "--kind", kind, "--json", env=cli_env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        return json.loads(listed.stdout)

    def runs() -> list[dict]:
        listed = cli_here("jobs", "list", "--json", env=cli_env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        return json.loads(listed.stdout)

    # data that breaks the contract: refused, naming the column, nothing trained
    broken = churn_data.generate(300, seed=2).drop(columns=["Churn"])
    s3.put_object(Bucket=bucket, Key="landing/broken.csv", Body=broken.to_csv(index=False))
    wait_for(
        lambda: [e for e in events("data_landed") if e["status"] == "done"],
        120,
        "refusal",
        interval=CLI_POLL,
    )
    [refused] = events("data_landed")
    shown = json.loads(
        cli_here("events", "show", refused["id"], "--json", env=cli_env, cwd=tmp_path).stdout
    )
    assert shown["outcome"]["result"] == "refused"
    assert "missing required column 'Churn' (string)" in shown["outcome"]["summary"]
    assert runs() == []

    landed = churn_data.generate(1500, seed=3)
    landed["TotalCharges"] = landed["TotalCharges"].astype(object)
    landed.loc[:10, "TotalCharges"] = " "  # as in the Telco file: new customers, blank charges
    s3.put_object(Bucket=bucket, Key="landing/2026-11-23.csv", Body=landed.to_csv(index=False))
    wait_for(
        lambda: version_with_alias(client, model) == "1",
        180,
        "v1 trained, validated, champion",
        interval=CLI_POLL,  # ~30 s of Spark start-up and training: each poll is an MLflow 404
    )
    version = client.get_model_version(model, "1")
    assert version.tags["mlops.validation"] == "passed"
    run = client.get_run(version.run_id)
    assert run.data.tags["mlops.trigger.reason"] == "data_landed"
    assert run.data.tags["mlops.trigger.data"] == f"s3://{bucket}/landing/2026-11-23.csv"
    assert run.data.params["cleaning.TotalCharges"] == "text to double; 11 blank values set to 0"
    assert float(run.data.metrics["holdout_roc_auc"]) > 0.7
    assert DeltaTable(str(tables / model / "features")).to_pandas().shape[0] == 1500

    # the same S3 notification again (SQS is at-least-once): one event, one run
    good = next(e for e in events("data_landed") if e["id"] != refused["id"])
    record = json.loads(
        cli_here("events", "show", good["id"], "--json", env=cli_env, cwd=tmp_path).stdout
    )
    notification = {"Records": [record["event"]["payload"]]}  # the payload is the S3 record
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(notification))
    wait_for(
        lambda: next(e for e in events("data_landed") if e["id"] == good["id"])["deliveries"] == 2,
        30,
        "the duplicate notification to be recorded",
        interval=CLI_POLL,
    )
    assert [r["job"] for r in runs()] == ["train"]

    # a scheduled batch inference with the champion
    s3.put_object(
        Bucket=bucket,
        Key="score/customers.csv",
        Body=churn_data.generate(400, seed=4).to_csv(index=False),
    )
    tick = {
        "task": "batch_inference",
        "model": model,
        "rule": "nightly",
        "time": "2026-11-24T02:00:00Z",
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(tick))
    [scoring] = wait_for(
        lambda: [r for r in runs() if r["job"] == "batch_inference" and r["ended_at"]],
        120,
        "the batch inference run to end",
        interval=CLI_POLL,
    )
    log = cli("jobs", "logs", scoring["run_id"], "--tail", "30", env=cli_env, cwd=tmp_path)
    assert scoring["state"] == "success", log.stdout + log.stderr
    predictions = DeltaTable(str(tables / model / "predictions"))
    scored = predictions.to_pandas()
    assert len(scored) == 400 and set(scored["model_version"]) == {"1"}
    assert set(scored["prediction"]) <= {"Yes", "No"}
    assert predictions.metadata().partition_columns == ["score_date"]

    # drifted customers scored, then the scheduled drift check (the job, as the policy says)
    drifted = churn_data.generate(1600, seed=5, shift=1.0)
    s3.put_object(Bucket=bucket, Key="score/customers.csv", Body=drifted.to_csv(index=False))
    tick["time"] = "2026-11-24T03:00:00Z"
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(tick))
    wait_for(
        lambda: len([r for r in runs() if r["job"] == "batch_inference" and r["ended_at"]]) == 2,
        120,
        "the second batch inference",
        interval=CLI_POLL,
    )
    check = {"task": "drift_check", "model": model, "rule": "drift", "time": "2026-11-24T04:00:00Z"}
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(check))
    [checked] = wait_for(
        lambda: [r for r in runs() if r["job"] == "drift_check" and r["ended_at"]],
        120,
        "the drift check job",
        interval=CLI_POLL,
    )
    log = cli("jobs", "logs", checked["run_id"], "--tail", "30", env=cli_env, cwd=tmp_path)
    assert checked["state"] == "success", log.stdout
    assert checked["result"]["alarm_published"] is True
    assert "MonthlyCharges" in checked["result"]["drifted"]
    shown = cli("drift", model, env=cli_env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "MonthlyCharges" in shown.stdout and "drifted: " in shown.stdout

    wait_for(
        lambda: (
            client.search_model_versions(f"name = '{model}'")
            and len(client.search_model_versions(f"name = '{model}'")) == 2
        ),
        180,
        "version 2, retrained for the drift",
    )
    retrained = client.get_run(client.get_model_version(model, "2").run_id)
    assert retrained.data.tags["mlops.trigger.reason"] == "drift"
    assert "MonthlyCharges" in retrained.data.tags["mlops.drift.features"]
    [alarm] = events("drift_detected")
    assert alarm["status"] == "done"
    trains = [r for r in runs() if r["job"] == "train"]
    assert len(trains) == 2 and trains[0]["params"]["reason"] == "drift"
