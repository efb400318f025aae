"""serverless.yml packaged by `osls package` (the open-source Serverless v3 line, no login):
the generated CloudFormation has every function, event source, queue, table and permission."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.rehearsal import scheduled_event, target_input

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


# The four per-deployment parameters (deploy-stage.yml passes the real ones).
PARAMS = {
    "databricksHost": "https://dbc-test.cloud.databricks.com",
    "secretsKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "edgeLayerArn": "arn:aws:lambda:us-east-1:123456789012:layer:mlops-hooks-edge:3",
    "workerImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-hooks-worker@sha256:"
    + "0" * 64,
}
WORKER = "mlops_hooks.functions.lambda_worker.handler"


def package(osls: Path, folder: Path, stage: str, **params: str) -> dict[str, Any]:
    """Package a copy of the service (so .serverless/ never lands in the repository)."""
    return packaged(osls, folder, stage, **params)["Resources"]


def packaged(
    osls: Path, folder: Path, stage: str, *, files: dict[str, str] | None = None, **params: str
) -> dict[str, Any]:
    """The whole CloudFormation template ``osls package`` writes for ``stage`` (``files``: more
    files beside serverless.yml, e.g. another policy to ship)."""
    work = folder / stage
    work.mkdir()
    for name in ("serverless.yml", "package.json"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(ROOT / "examples", work / "examples")
    for name, text in (files or {}).items():
        (work / name).write_text(text)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAPACKAGE", "AWS_SECRET_ACCESS_KEY": "x"}
    env.pop("AWS_ENDPOINT_URL", None)
    given = [f"--param={k}={v}" for k, v in {**PARAMS, **params}.items()]
    done = subprocess.run(
        [str(osls), "package", "--stage", stage, *given],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    template = work / ".serverless" / "cloudformation-template-update-stack.json"
    return json.loads(template.read_text())


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == kind}


def handler_of(props: dict[str, Any]) -> str:
    """A zip function's handler, or an image function's command."""
    return props.get("Handler") or props["ImageConfig"]["Command"][0]


def test_functions_event_sources_queues_table_and_least_privilege(osls, tmp_path) -> None:
    resources = package(osls, tmp_path, "dev")
    functions = of_type(resources, "AWS::Lambda::Function")
    ours = {handler_of(p): p for p in functions.values() if handler_of(p).startswith("mlops_")}
    assert set(ours) == {
        "mlops_hooks.functions.lambda_http.handler",
        "mlops_hooks.functions.lambda_s3.handler",
        "mlops_hooks.functions.lambda_schedule.handler",
        "mlops_hooks.functions.lambda_alarm.handler",
        WORKER,
    }
    for name, props in ours.items():
        env = props["Environment"]["Variables"]
        assert env["MLOPS_HOOKS_SECRETS_SSM"] == "/mlops-hooks/dev/secrets"
        assert not any("SECRET" in k and k != "MLOPS_HOOKS_SECRETS_SSM" for k in env)
        assert env["DATABRICKS_HOST"] == PARAMS["databricksHost"]
        assert env["MLOPS_HOOKS_POLICY"] == "examples/mlops.yml"  # shipped in the zip
        if name == WORKER:  # the worker is a container image (the worker extra is ~870 MB)
            assert props["PackageType"] == "Image"
            assert props["Code"] == {"ImageUri": PARAMS["workerImageUri"]}
            assert props["Timeout"] == 120
        else:  # the edge functions: the edge layer
            assert props["Runtime"] == "python3.11" and props["Architectures"] == ["arm64"]
            assert props["Layers"] == [PARAMS["edgeLayerArn"]]

    routes = {p["RouteKey"] for p in of_type(resources, "AWS::ApiGatewayV2::Route").values()}
    assert {
        "POST /webhooks/mlflow",
        "POST /webhooks/databricks",
        "POST /slack/actions",
        "GET /healthz",
        "GET /events",
        "GET /events/{event_id}",
        "GET /ui",
        "GET /ui/{proxy+}",
        "POST /ui/login",
        "POST /ui/events/{event_id}/replay",
    } <= routes

    [s3] = of_type(resources, "Custom::S3").values()
    assert s3["BucketName"] == "mlops-hooks-landing-dev"
    assert {c["Event"] for c in s3["BucketConfigs"]} == {"s3:ObjectCreated:*"}
    assert [c["Rules"] for c in s3["BucketConfigs"]] == [
        [{"Prefix": "landing/"}],
        [{"Prefix": "labels/"}],  # the true outcomes: labels_landed
    ]

    # each rule's task, and the time of the event it was scheduled for (its key)
    at = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    rates = {}
    for name, rule in of_type(resources, "AWS::Events::Rule").items():
        for target in rule["Targets"]:
            assert target["InputTransformer"]["InputPathsMap"] == {"time": "$.time"}
            given = target_input(target, scheduled_event(name, at))
            assert given["time"] == "2026-12-06T02:00:00Z" and given["rule"], given
            rates[given["task"]] = rule["ScheduleExpression"]
    assert set(rates) == {"reconcile", "sweep", "batch_inference", "drift_check"}
    assert rates["sweep"] == rates["reconcile"] == "rate(1 minute)"

    [subscription] = of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["TopicArn"] == {"Ref": "AlarmTopic"}

    # every asynchronously invoked function has an on-failure destination
    async_functions = {"LandingLambdaFunction", "ScheduleLambdaFunction", "AlarmLambdaFunction"}
    destinations = {
        p["FunctionName"]["Ref"]: p["DestinationConfig"]["OnFailure"]["Destination"]
        for p in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert destinations == {f: {"Fn::GetAtt": ["AsyncFailures", "Arn"]} for f in async_functions}

    [mapping] = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["EventQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queues = of_type(resources, "AWS::SQS::Queue")
    # AWS: the queue's visibility timeout >= 6 x the function's timeout + the batching window
    window = mapping.get("MaximumBatchingWindowInSeconds", 0)
    assert queues["EventQueue"]["VisibilityTimeout"] >= 6 * ours[WORKER]["Timeout"] + window
    assert mapping["BatchSize"] * 20 <= ours[WORKER]["Timeout"]  # 20 s: the ready wait
    assert queues["EventQueue"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["EventDeadLetters", "Arn"]
    }

    from mlops_hooks.shared.adapters.ledger_dynamodb import INDEXES, TABLE_ATTRIBUTES, TTL_ATTRIBUTE

    [table] = of_type(resources, "AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == (
        TABLE_ATTRIBUTES
    )
    declared = {
        g["IndexName"]: (g["KeySchema"][0]["AttributeName"], g["KeySchema"][1]["AttributeName"])
        for g in table["GlobalSecondaryIndexes"]
    }
    assert declared == {name: (h, r) for name, (h, r, _) in INDEXES.items()}
    assert {g["IndexName"]: g["Projection"] for g in table["GlobalSecondaryIndexes"]} == {
        name: projection for name, (_, _, projection) in INDEXES.items()
    }
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}

    role = resources["IamRoleLambdaExecution"]["Properties"]["Policies"][0]["PolicyDocument"]
    statements = role["Statement"]
    by_sid = {s.get("Sid"): s for s in statements}
    assert set(by_sid["Ledger"]["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",  # never Scan: every read is a query on an index
    }
    assert by_sid["WakeTheWorker"]["Action"] == ["sqs:SendMessage"]
    assert by_sid["Secrets"]["Action"] == ["ssm:GetParameter"]
    [key] = by_sid["DecryptSecrets"]["Resource"]
    assert key == {
        "Fn::Sub": f"arn:aws:kms:${{AWS::Region}}:${{AWS::AccountId}}:key/{PARAMS['secretsKeyId']}"
    }
    assert "alias" not in json.dumps(by_sid["DecryptSecrets"])
    buckets = by_sid["ReadData"]["Resource"]
    assert "arn:aws:s3:::mlops-hooks-landing-dev/*" in buckets
    assert "arn:aws:s3:::mlops-hooks-holdout-dev/*" in buckets
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if statement["Resource"] == ["*"]:  # only X-Ray (and ECR's token) take no resource
            assert all(a.startswith(("xray:", "ecr:GetAuthorizationToken")) for a in actions)
    worker_sqs = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
    assert worker_sqs and worker_sqs[0]["Resource"] == [{"Fn::GetAtt": ["EventQueue", "Arn"]}]
    failures = [
        s for s in statements if s["Resource"] == [{"Fn::GetAtt": ["AsyncFailures", "Arn"]}]
    ]
    assert failures and failures[0]["Action"] == ["sqs:SendMessage"]


# Settings read on AWS from somewhere other than each function's environment, and why.
NOT_IN_THE_ENVIRONMENT = {
    # secrets: the SSM SecureString document (MLOPS_HOOKS_SECRETS_SSM), never the environment
    "mlflow_webhook_secret": "secret",
    "databricks_webhook_secret": "secret",
    "api_token": "secret",
    "databricks_token": "secret",
    "slack_webhook_url": "secret",
    "slack_bot_token": "secret",
    "slack_signing_secret": "secret",
    # sensible defaults for every stage
    "challenger_alias": "default",
    "champion_alias": "default",
    "previous_alias": "default",
    "promote_tag": "default",
    "ledger_url": "set",  # (listed below, as MLOPS_HOOKS_LEDGER_URL)
    "ledger_wal_limit_mb": "SQLite ledgers only: on AWS the ledger is DynamoDB",
    "ledger_checkpoint_seconds": "SQLite ledgers only: on AWS the ledger is DynamoDB",
    "ledger_sync_helper": "SQLite ledgers only: on AWS the ledger is DynamoDB",
    "reconcile_cron": "serve's scheduler only: EventBridge ticks on AWS",
    "scheduler_poll_seconds": "serve's scheduler only",
    "sweep_seconds": "serve's scheduler only: an EventBridge rate on AWS",
    "sweep_lookback_hours": "default",
    "sweep_workspaces": "MLflow 3 workspaces: a deployment on a workspace server sets it",
    "sweep_uc_schemas": "optional: a Unity Catalog deployment puts it in the SSM settings document",
    "poll_only": "serve only: on AWS the sweep rule always runs; no secret, no webhook route",
    "ingest_queue_url": "serve only: on AWS S3/SNS trigger the functions directly",
    "workers": "serve's worker pool only",
    "warm_up": "serve only: the functions never warm up ahead",
    "jobs_warm": "local jobs only: on AWS jobs run on Databricks",
    "poll_seconds": "serve's worker pool only",
    "max_attempts": "default",
    "retry_base_seconds": "default",
    "retry_max_seconds": "default",
    "lease_seconds": "default",
    "ready_wait_seconds": "default (the worker's timeout is sized for it)",
    "rewake_after_seconds": "default",
    "max_body_bytes": "default (API Gateway caps bodies at 10 MB before us)",
    "signature_tolerance_seconds": "default",
    "handler_modules": "a deployment that adds handlers sets it",
    "mlflow_ui_url": "default: the tracking URI",
    "databricks_retry_timeout_seconds": "default",
    "slack_channel": "with a bot token only: the secrets document",
    "slack_api_url": "tests only (a local fake)",
    "aws_endpoint_url": "tests only (moto)",
    "tick_retention_days": "default",
    "run_retention_days": "default",
    "server_timeout_seconds": "the CLI's (commands run by people, not the functions)",
}


def test_every_setting_the_code_reads_is_in_each_functions_environment(osls, tmp_path) -> None:
    from mlops_hooks.shared.settings import Settings

    resources = package(osls, tmp_path, "staging")
    env_names = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        env_names[name] = choices[0] if choices else f"MLOPS_HOOKS_{name.upper()}"
    needed = {n: e for n, e in env_names.items() if NOT_IN_THE_ENVIRONMENT.get(n) in (None, "set")}
    assert set(NOT_IN_THE_ENVIRONMENT) <= set(env_names), "stale entries in the allow-list"
    for key, props in of_type(resources, "AWS::Lambda::Function").items():
        if not handler_of(props).startswith("mlops_hooks."):
            continue
        env = props["Environment"]["Variables"]
        missing = sorted(e for e in needed.values() if e not in env)
        assert missing == [], f"{key} lacks {missing}"
        assert all(env[e] not in ("", None) for e in needed.values()), (key, env)


def test_a_missing_deployment_parameter_fails_the_packaging(osls, tmp_path) -> None:
    work = tmp_path / "bare"
    work.mkdir()
    for name in ("serverless.yml", "package.json"):
        shutil.copy(ROOT / name, work / name)
    done = subprocess.run(
        [str(osls), "package", "--stage", "dev"],
        cwd=work,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "AKIAPACKAGE", "AWS_SECRET_ACCESS_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode != 0  # no silent empty host: the deployment must name it
    said = done.stdout + done.stderr
    assert "Cannot resolve variable" in said and "DATABRICKS_HOST" in said


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
        p for p in of_type(prod, "AWS::Lambda::Function").values() if handler_of(p) == WORKER
    ]
    assert workers[0]["ReservedConcurrentExecutions"] == 10
