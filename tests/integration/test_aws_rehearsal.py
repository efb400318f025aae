"""The deployed topology, rehearsed end to end: what `osls package` declares, run on moto (DynamoDB,
SQS, SNS, S3, SSM), a real MLflow 3 server and the Databricks fake (tests/support/rehearsal.py).

It walks: a real MLflow webhook → the HTTP API route → the DynamoDB ledger → SQS → the worker
function → verdict and report on the version; a version whose webhook never came → the sweep
rule → found and validated once; an S3 put → the landing function → data_landed →
Databricks run_now once; an SNS drift alarm → the alarm function → drift_detected; a handler
failing (Databricks down) → retried on the ticks → dead → visible through GET /events with the
token, 401 without; a lost SQS wake-up → picked up by the next tick.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from mlflow import MlflowClient

from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger
from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.domain.signatures import sign_mlflow
from tests.integration.test_serverless_package import PARAMS, osls, packaged  # noqa: F401
from tests.support.fake_databricks import JOBS, JobsState, add_jobs_routes
from tests.support.fake_http import FakeHTTP
from tests.support.http import HTTP
from tests.support.mlflow_models import log_and_register
from tests.support.processes import Proc, wait_for, webhook_cache_expired
from tests.support.rehearsal import Topology, put_secrets

SECRETS = {
    "mlflow_webhook_secret": "rehearsal-webhook-secret",
    "api_token": "rehearsal-read-token",
    "databricks_token": "dapi-rehearsal",
}
POLICY = """
models:
  - name: "rehearsal-*"
    checks: {loads: {}, signature: {}, predictions: {}}
    promotion: {mode: auto, after_validation: none}
  - name: churn
    holdout: {label: Churn}
    data: {watch: [{bucket: BUCKET, prefix: landing/churn/}]}
    jobs: {train: {name: mlops-hooks-train}}
  - name: fraud
    holdout: {label: Churn}
    data: {watch: [{bucket: BUCKET, prefix: landing/fraud/}]}
    jobs: {train: {name: mlops-hooks-train}}
"""
# Test timing only: what the template declares, with retries and the re-wake made fast.
FAST = {
    "MLOPS_HOOKS_MAX_ATTEMPTS": "2",
    "MLOPS_HOOKS_RETRY_BASE_SECONDS": "0.2",
    "MLOPS_HOOKS_REWAKE_AFTER_SECONDS": "0.5",
    "MLOPS_HOOKS_DATABRICKS_RETRY_TIMEOUT_SECONDS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


@pytest.fixture(scope="module")
def mlflow_server(own_mlflow: Proc) -> Proc:
    """The rehearsal's own server (over the session's): its sweep acts on every version."""
    return own_mlflow


@pytest.fixture
def databricks() -> Iterator[tuple[JobsState, FakeHTTP, str]]:
    state = JobsState(["mlops-hooks-train", "mlops-hooks-batch-inference"])
    fake = FakeHTTP()
    add_jobs_routes(fake, state)
    url = fake.start()
    yield state, fake, url
    fake.stop()


@pytest.fixture
def topology(osls, tmp_path, moto_server, mlflow_server, databricks) -> Iterator[Topology]:  # noqa: F811
    _, _, databricks_url = databricks
    stage = f"r{uuid.uuid4().hex[:6]}"  # its own resources on the session's moto server
    bucket = f"mlops-hooks-landing-{stage}"
    policy = POLICY.replace("BUCKET", bucket)
    template = packaged(
        osls,
        tmp_path,
        stage,
        files={"rehearsal.yml": policy},
        databricksHost=databricks_url,
        mlflowTrackingUri=mlflow_server.url,
        policyFile="rehearsal.yml",
        tablesUri=f"s3://{bucket}/tables",
    )
    work = tmp_path / "task"  # the functions' /var/task: what their zip holds
    work.mkdir()
    (work / "rehearsal.yml").write_text(policy)
    env = template["Resources"]["HttpLambdaFunction"]["Properties"]["Environment"]["Variables"]
    put_secrets(moto_server, env["MLOPS_HOOKS_SECRETS_SSM"], SECRETS)
    topo = Topology(template, moto_server, work, extra_env=FAST)
    topo.create_resources()
    try:
        topo.start_functions()
        topo.gateway_url = topo.start_gateway()  # type: ignore[attr-defined]
        topo.start_event_sources()
        topo.bucket = bucket  # type: ignore[attr-defined]
        yield topo
    finally:
        topo.stop()


def ledger_of(topo: Topology) -> DynamoDBLedger:
    return DynamoDBLedger(topo.physical["LedgerTable"], endpoint_url=topo.moto)


def test_the_deployed_topology_end_to_end(
    topology: Topology, mlflow_server, databricks, churn, tmp_path: Path
) -> None:
    _, fake, _ = databricks
    gateway = topology.gateway_url  # type: ignore[attr-defined]
    ledger = ledger_of(topology)
    client = MlflowClient(mlflow_server.url)
    train, _, model = churn

    # --- a real MLflow webhook -> HTTP API -> DynamoDB -> SQS -> worker -> verdict ----------
    health = HTTP.get(f"{gateway}/healthz").json()
    assert health["status"] == "ok" and health["rejected"] == {} and len(health["policy"]) == 12
    hook = client.create_webhook(
        name=f"rehearsal-{uuid.uuid4().hex[:6]}",
        url=f"{gateway}/webhooks/mlflow",
        events=["model_version.created"],
        secret=SECRETS["mlflow_webhook_secret"],
    )
    try:
        name = f"rehearsal-{uuid.uuid4().hex[:6]}"
        webhook_cache_expired()
        version = log_and_register(mlflow_server.url, name, model, train, client=client)

        def verdict() -> str | None:
            return client.get_model_version(name, version).tags.get("mlops.validation")

        wait_for(verdict, 60, "the worker's verdict on the version")
        assert verdict() == "passed"
        report = read_section(client.get_model_version(name, version).description, "validation")
        assert report.startswith("### mlops-hooks validation: ✅ passed")
        [registered] = [r for r in ledger.list(kind=EventKind.MODEL_REGISTERED) if r.model == name]
        assert registered.status.value == "done" and registered.source == "mlflow"
    finally:
        client.delete_webhook(hook.webhook_id)

    # --- a version whose webhook never came -> the EventBridge sweep rule -> found, once -----
    webhook_cache_expired()  # the webhook is gone from the server's cache too
    unannounced = log_and_register(mlflow_server.url, name, model, train, client=client)
    swept = topology.tick("sweep")
    assert "error" not in swept, swept
    wait_for(
        lambda: client.get_model_version(name, unannounced).tags.get("mlops.validation"),
        60,
        "the swept version's verdict",
    )

    def registered() -> dict:
        return {r.version: r for r in ledger.list(kind=EventKind.MODEL_REGISTERED, model=name)}

    # the verdict tag is written before the handler ends: wait for the event, do not race it
    wait_for(lambda: registered()[unannounced].status.value == "done", 60, "the swept event")
    found = registered()
    assert set(found) == {version, unannounced}  # one event each
    assert found[unannounced].source == "sweep"
    assert found[version].source == "mlflow" and found[version].deliveries == 2  # both paths

    # --- an S3 put -> the landing function -> data_landed -> Databricks run_now, once -------
    s3 = boto3.client("s3", endpoint_url=topology.moto, region_name="us-east-1")
    csv = churn_data.generate(300, seed=4).to_csv(index=False).encode()
    s3.put_object(Bucket=topology.bucket, Key="landing/churn/2026-12-01.csv", Body=csv)
    s3.put_object(Bucket=topology.bucket, Key="elsewhere/x.csv", Body=csv)  # no rule

    def landed():
        return [r for r in ledger.list(kind=EventKind.DATA_LANDED) if r.status.value == "done"]

    [data_landed] = wait_for(landed, 60, "data_landed handled")
    assert data_landed.outcome["result"] == "launched", data_landed.outcome
    runs = fake.calls("POST", f"{JOBS}/run-now")
    assert len(runs) == 1 and runs[0].headers["authorization"] == "Bearer dapi-rehearsal"
    params = runs[0].json()["job_parameters"]
    assert params["data"] == f"s3://{topology.bucket}/landing/churn/2026-12-01.csv"
    assert params["features_table"] == f"s3://{topology.bucket}/tables/churn/features"

    # --- an SNS drift alarm -> the alarm function -> drift_detected ------------------------
    sns = boto3.client("sns", endpoint_url=topology.moto, region_name="us-east-1")
    alarm = {
        "AlarmName": "churn-psi",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: PSI 0.31 > 0.25",
        "StateChangeTime": "2026-12-01T10:05:00.000+0000",
        "Trigger": {"Dimensions": [{"name": "model", "value": "churn"}]},
    }
    sns.publish(TopicArn=topology.physical["AlarmTopic"], Message=json.dumps(alarm))
    [drift] = wait_for(
        lambda: [r for r in ledger.list(kind=EventKind.DRIFT_DETECTED) if r.status.value == "done"],
        60,
        "drift_detected handled",
    )
    assert drift.model == "churn" and drift.outcome["result"] == "launched", drift.outcome
    assert len(fake.calls("POST", f"{JOBS}/run-now")) == 2  # the retraining

    # --- Databricks down: retried on the ticks, then dead; the read API needs the token ----
    fake.fail_next("POST", f"{JOBS}/run-now", 503, times=1000)
    s3.put_object(Bucket=topology.bucket, Key="landing/fraud/2026-12-01.csv", Body=csv)

    def fraud() -> list:
        return [
            r
            for r in ledger.list(kind=EventKind.DATA_LANDED)
            if r.event.object_key.startswith("landing/fraud/")
        ]

    wait_for(
        lambda: fraud() and fraud()[0].status.value == "failed", 60, "the first attempt to fail"
    )
    # --- a lost SQS wake-up: recorded, never sent; the next tick picks it up ----------------
    lost_version = log_and_register(mlflow_server.url, name, model, train, client=client)
    lost = ledger.record(
        events.model_registered(Source.MLFLOW, name, lost_version), now=time.time()
    ).record
    time.sleep(1)
    assert ledger.get(lost.id).status.value == "received"  # nobody was told

    # EventBridge fires the reconcile rule once a minute: a tick re-wakes the failed retry (once
    # due) and the lost event, together; a tick of a minute already ticked is the same tick, so
    # this may wait for the next minute's
    def both_settled() -> bool:
        ticked = topology.tick("reconcile")
        assert "error" not in ticked, ticked
        verdict = client.get_model_version(name, lost_version).tags.get("mlops.validation")
        return fraud()[0].status.value == "dead" and verdict is not None

    wait_for(both_settled, 150, "the reconcile ticks: a dead retry, a verdict", interval=2)
    # a tick is keyed by the time EventBridge scheduled it for (the rule's input transformer
    # passes the event's time): Lambda's retry of the same invocation a minute later is the
    # same tick, the next minute's is a new one
    scheduled = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
    first, retried, next_minute = (
        topology.tick("reconcile", at=at)["result"]
        for at in (scheduled, scheduled, scheduled + timedelta(minutes=1))
    )
    assert [r["duplicate"] for r in first["recorded"]] == [False]
    assert retried["recorded"] == [{**first["recorded"][0], "duplicate": True}]
    assert next_minute["recorded"][0]["id"] != first["recorded"][0]["id"]
    assert ledger.get(lost.id).status.value == "done"
    [dead] = fraud()
    assert dead.status.value == "dead" and dead.attempts == 2, dead
    # databricks-sdk retried the 503s until its retry timeout, then gave up: a retryable error
    assert dead.last_error == "TimeoutError: Timed out after 0:00:01"
    assert len(fake.calls("POST", f"{JOBS}/run-now")) > 2  # the SDK's retries reached the fake
    fake.faults.clear()
    assert HTTP.get(f"{gateway}/events", params={"status": "dead"}).status_code == 401
    listed = HTTP.get(
        f"{gateway}/events",
        params={"status": "dead"},
        headers={"Authorization": f"bearer {SECRETS['api_token']}"},
    )
    assert listed.status_code == 200 and [e["id"] for e in listed.json()] == [dead.id]
    shown = HTTP.get(
        f"{gateway}/events/{dead.id}",
        headers={"Authorization": f"Bearer {SECRETS['api_token']}"},
    ).json()
    assert shown["status"] == "dead" and shown["attempts"] == 2
    # the monitoring pages, through the HTTP API's /ui routes: never without the token there
    assert HTTP.get(f"{gateway}/ui/events", params={"status": "dead"}).status_code == 401
    page = HTTP.get(
        f"{gateway}/ui/events",
        params={"status": "dead"},
        headers={"Authorization": f"Bearer {SECRETS['api_token']}"},
    )
    assert page.status_code == 200 and f'href="/ui/events/{dead.id}"' in page.text

    # the asynchronous functions never failed for good (nothing in AsyncFailures)
    sqs = boto3.client("sqs", endpoint_url=topology.moto, region_name="us-east-1")
    failures = sqs.receive_message(QueueUrl=topology.physical["AsyncFailures"]).get("Messages")
    assert not failures, failures
    ledger.close()


def test_a_signed_request_with_a_wrong_secret_is_refused_at_the_gateway(topology) -> None:
    gateway = topology.gateway_url  # type: ignore[attr-defined]
    body = json.dumps({"entity": "model_version", "action": "created", "data": {}}).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-MLflow-Delivery-Id": "d1",
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign_mlflow("not-the-secret", "d1", stamp, body),
    }
    refused = HTTP.post(f"{gateway}/webhooks/mlflow", content=body, headers=headers)
    assert refused.status_code == 401
    assert ledger_of(topology).list() == []
