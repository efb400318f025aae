"""Register a churn model on a real MLflow 3 server → real webhook → `serve` validates it.

The model is trained here on the real IBM Telco data (generated churn data of the same shape
when ../shared/data is absent) and the holdout is 20 % of it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier

from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.domain.signatures import sign_mlflow
from tests.conftest import WEBHOOK_SECRET, webhook_env
from tests.support.http import HTTP
from tests.support.mlflow_models import log_and_register
from tests.support.processes import Proc, cli, wait_for

POLICY = """
version: 1
models:
  - name: "churn-*"
    checks:
      loads: {}
      signature: {}
      input_example: {}
      predictions: {}
      metrics:
        thresholds: {roc_auc: {min: 0.75}, log_loss: {max: 0.6}}
      slices: {columns: [Contract], metric: roc_auc, min: 0.6}
      latency: {p95_ms: 1000}
      size: {max_mb: 50}
      lineage: {}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    promotion: {after_validation: none}
"""


VERDICT_WAIT = 90  # seconds


def verdict_of(client: MlflowClient, name: str, version: str) -> str | None:
    return client.get_model_version(name, version).tags.get("mlops.validation")


def test_a_telco_model_is_validated_and_a_constant_one_fails_by_name(
    mlflow_server: Proc, validating_serve, churn, tmp_path: Path
) -> None:
    train, holdout_csv, model = churn
    policy = tmp_path / "mlops.yml"
    policy.write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
    serve = validating_serve(MLOPS_HOOKS_POLICY=str(policy))
    client = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"churn-{uuid.uuid4().hex[:6]}"

    good = log_and_register(
        mlflow_server.url, name, model, train, description="Trained by Ada on Q3.", client=client
    )
    # how fast is bench/verdict.py's business (speed targets live in benchmarks): here, a
    # liveness bound generous enough for a slow shared machine
    wait_for(lambda: verdict_of(client, name, good), VERDICT_WAIT, "the verdict tag")
    mv = client.get_model_version(name, good)
    assert mv.tags["mlops.validation"] == "passed", mv.description
    assert mv.tags["mlops.validation.failed"] == ""
    assert mv.description.startswith("Trained by Ada on Q3.")
    report = read_section(mv.description, "validation")
    assert "### mlops-hooks validation: ✅ passed" in report
    assert "| `lineage` | ✅ passed |" in report and "| `slices` | ✅ passed |" in report
    assert "1,409 rows, label `Churn` (classifier, positive class `Yes`)" in report
    assert f"/#/models/{name}/versions/{good}" in report

    # MLflow's evaluation run (metrics and plots) comes after the verdict, as a report update
    def linked() -> str | None:
        report = read_section(client.get_model_version(name, good).description, "validation")
        return report if "[evaluation run](" in report else None

    report = wait_for(linked, VERDICT_WAIT, "the evaluation run linked in the report")
    assert "**mlflow.models.evaluate:** " in report and "roc_auc 0.8" in report
    # the evaluation ran in the source run's experiment (looked up when it started, after the
    # verdict), and both runs are linked by it
    experiment = client.get_run(mv.run_id).info.experiment_id
    evaluation = re.search(
        rf"\[evaluation run\]\([^)]*/experiments/{experiment}/runs/(\w+)\)", report
    )
    assert evaluation, report
    assert client.get_run(evaluation.group(1)).info.experiment_id == experiment
    assert f"[source run]({mlflow_server.url}/#/experiments/{experiment}/runs/{mv.run_id})" in (
        report
    )

    bad = log_and_register(
        mlflow_server.url,
        name,
        DummyClassifier(strategy="prior").fit(train.drop(columns=["Churn"]), train["Churn"]),
        train,
        client=client,
    )
    wait_for(
        lambda: verdict_of(client, name, bad), VERDICT_WAIT, "the verdict on the constant model"
    )
    mv = client.get_model_version(name, bad)
    assert mv.tags["mlops.validation"] == "failed"
    assert mv.tags["mlops.validation.failed"] == "metrics,slices"
    report = read_section(mv.description, "validation")
    assert "### mlops-hooks validation: ❌ failed: metrics, slices" in report
    assert "roc_auc 0.5000 (needs ≥ 0.75)" in report

    # Replay (CLI, in its own process) and a re-delivery of the same fact by the webhook:
    # one section, the author's text intact, still one event in the ledger.
    env = webhook_env(mlflow_server, tmp_path / "state-0", MLOPS_HOOKS_POLICY=str(policy))
    [event] = [
        e
        for e in HTTP.get(f"{serve.url}/events", params={"kind": "model_registered"}).json()
        if e["model"] == name and e["version"] == good
    ]
    replayed = cli("events", "replay", event["id"], env=env, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr

    def rerun_done() -> dict | None:
        detail = HTTP.get(f"{serve.url}/events/{event['id']}").json()
        runs = [h for h in detail["history"] if h["status"] == "done"]
        return detail if len(runs) == 2 and detail["status"] == "done" else None

    wait_for(rerun_done, VERDICT_WAIT, "the replayed event to run again")
    body = json.dumps(
        {
            "entity": "model_version",
            "action": "created",
            "timestamp": "2026-11-23T00:00:00Z",
            "data": {"name": name, "version": good, "source": "x", "run_id": "r"},
        }
    ).encode()
    delivery, ts = str(uuid.uuid4()), str(int(time.time()))
    again = HTTP.post(
        f"{serve.url}/webhooks/mlflow",
        content=body,
        headers={
            "X-MLflow-Signature": sign_mlflow(WEBHOOK_SECRET, delivery, ts, body),
            "X-MLflow-Delivery-Id": delivery,
            "X-MLflow-Timestamp": ts,
            "Content-Type": "application/json",
        },
    )
    assert again.status_code == 202 and again.json()["duplicate"] is True
    description = client.get_model_version(name, good).description
    assert description.startswith("Trained by Ada on Q3.")
    assert description.count("<!-- mlops-hooks:validation:begin -->") == 1
    detail = HTTP.get(f"{serve.url}/events/{event['id']}").json()
    assert detail["deliveries"] == 2
    assert [h.get("note") for h in detail["history"] if h["status"] == "received"] == [
        None,
        "replay",
    ]


def test_without_a_policy_file_a_model_without_signature_fails_on_signature(
    mlflow_server: Proc, validating_serve, churn
) -> None:
    train, _, model = churn
    validating_serve()  # cwd has no mlops.yml and MLOPS_HOOKS_POLICY is unset
    client = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"nosig-{uuid.uuid4().hex[:6]}"
    version = log_and_register(
        mlflow_server.url, name, model, train, with_signature=False, client=client
    )
    wait_for(lambda: verdict_of(client, name, version), VERDICT_WAIT, "the verdict tag")
    tags = client.get_model_version(name, version).tags
    assert tags["mlops.validation"] == "failed"
    assert tags["mlops.validation.failed"] == "signature,input_example"
