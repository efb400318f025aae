"""serverless.yml packaged by `osls package` (the open-source Serverless v3 line, no login):
the generated CloudFormation has every function, event source, queue, table and permission."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def osls() -> Path:
    binary = ROOT / "node_modules" / ".bin" / "osls"
    if not binary.exists():
        if shutil.which("npm") is None:
            pytest.skip("Node.js/npm is not installed: apt-get install nodejs npm (Node >= 18)")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"], cwd=ROOT, check=True, timeout=300
        )
    return binary


def package(osls: Path, folder: Path, stage: str) -> dict[str, Any]:
    """Package a copy of the service (so .serverless/ never lands in the repository)."""
    work = folder / stage
    work.mkdir()
    for name in ("serverless.yml", "package.json"):
        shutil.copy(ROOT / name, work / name)
    for name in ("functions", "handlers", "shared"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAPACKAGE", "AWS_SECRET_ACCESS_KEY": "x"}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [str(osls), "package", "--stage", stage],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    template = work / ".serverless" / "cloudformation-template-update-stack.json"
    return json.loads(template.read_text())["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == kind}


def test_functions_event_sources_queues_table_and_least_privilege(osls, tmp_path) -> None:
    resources = package(osls, tmp_path, "dev")
    functions = of_type(resources, "AWS::Lambda::Function")
    handlers = {p["Handler"] for p in functions.values()}
    assert {
        "mlops_hooks.functions.lambda_http.handler",
        "mlops_hooks.functions.lambda_s3.handler",
        "mlops_hooks.functions.lambda_schedule.handler",
        "mlops_hooks.functions.lambda_alarm.handler",
        "mlops_hooks.functions.lambda_worker.handler",
    } <= handlers
    for props in functions.values():
        if props["Handler"].startswith("functions."):
            assert props["Runtime"] == "python3.11"
            env = props["Environment"]["Variables"]
            assert env["MLOPS_HOOKS_SECRETS_SSM"] == "/mlops-hooks/dev/secrets"
            assert not any("SECRET" in k and k != "MLOPS_HOOKS_SECRETS_SSM" for k in env)

    routes = {p["RouteKey"] for p in of_type(resources, "AWS::ApiGatewayV2::Route").values()}
    assert {
        "POST /webhooks/mlflow",
        "POST /webhooks/databricks",
        "POST /slack/actions",
        "GET /healthz",
        "GET /events",
        "GET /events/{event_id}",
    } <= routes

    [s3] = of_type(resources, "Custom::S3").values()
    [config] = s3["BucketConfigs"]
    assert s3["BucketName"] == "mlops-hooks-landing-dev"
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Rules"] == [{"Prefix": "landing/"}]

    inputs = [
        json.loads(t["Input"])
        for r in of_type(resources, "AWS::Events::Rule").values()
        for t in r["Targets"]
    ]
    assert {i["task"] for i in inputs} == {"reconcile", "batch_inference", "drift_check"}

    [subscription] = of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["TopicArn"] == {"Ref": "AlarmTopic"}

    [mapping] = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    queues = of_type(resources, "AWS::SQS::Queue")
    assert queues["EventQueue"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["EventDeadLetters", "Arn"]
    }
    [table] = of_type(resources, "AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert [g["IndexName"] for g in table["GlobalSecondaryIndexes"]] == ["due-index"]

    role = resources["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"]
    statements = role["Statement"]
    by_sid = {s.get("Sid"): s for s in statements}
    assert set(by_sid["Ledger"]["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }
    assert by_sid["WakeTheWorker"]["Action"] == ["sqs:SendMessage"]
    assert by_sid["Secrets"]["Action"] == ["ssm:GetParameter"]
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if statement["Resource"] == ["*"]:  # only X-Ray takes no resource
            assert all(a.startswith("xray:") for a in actions), statement
    worker_sqs = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
    assert worker_sqs and worker_sqs[0]["Resource"] == [{"Fn::GetAtt": ["EventQueue", "Arn"]}]


def test_stages_have_their_own_parameters(osls, tmp_path) -> None:
    dev, prod = package(osls, tmp_path, "dev"), package(osls, tmp_path, "prod")
    retention = {
        name: {p["RetentionInDays"] for p in of_type(r, "AWS::Logs::LogGroup").values()}
        for name, r in (("dev", dev), ("prod", prod))
    }
    assert retention == {"dev": {7}, "prod": {90}}
    assert (
        of_type(prod, "AWS::DynamoDB::Table")["LedgerTable"]["TableName"]
        == "mlops-hooks-prod-ledger"
    )
    workers = [
        p
        for p in of_type(prod, "AWS::Lambda::Function").values()
        if p["Handler"] == "mlops_hooks.functions.lambda_worker.handler"
    ]
    assert workers[0]["ReservedConcurrentExecutions"] == 10
