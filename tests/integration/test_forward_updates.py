"""The model update trigger's job (jobs/forward_updates.py) in its deployed shape: run as the
bundle's wheel task runs it, into the DynamoDB ledger and the SQS wake-up queue on moto (over
HTTP), with the sweep's keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import boto3

from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.domain.sweep import RegistryChange, SweepCursor, SweepRules, decide

UPDATES = [
    {"full_name": "main.mlops.churn", "version": 3},
    {"full_name": "main.mlops.churn", "version": 2, "alias_name": "challenger"},
    {"full_name": "main.mlops.churn", "version": 1, "alias_name": "champion"},  # ours: nothing
    {"full_name": "main.mlops.fraud"},  # a model created: nothing to act on
]


def forward(updates: object, *options: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_hooks.jobs.forward_updates",
            "--updates",
            json.dumps(updates),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_updates_go_into_the_ledger_with_the_sweeps_keys_and_wake_the_worker(
    moto_server: str,
) -> None:
    table = f"forward-{uuid.uuid4().hex[:8]}"
    ledger = DynamoDBLedger(table, endpoint_url=moto_server, create=True)
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    queue = sqs.create_queue(QueueName=table)["QueueUrl"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_DEFAULT_REGION", "AWS_REGION"))
    }
    env["AWS_ENDPOINT_URL"] = moto_server
    options = (
        "--ledger-url",
        f"dynamodb://{table}",
        "--queue-url",
        queue,
        "--aws-region",
        "us-east-1",
    )
    try:
        done = forward(UPDATES, *options, env=env)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.split("MLOPS_HOOKS_RESULT ", 1)[1])
        assert (result["updates"], result["new"]) == (2, 2)

        found = {r.kind: r for r in ledger.list()}
        assert set(found) == {EventKind.MODEL_REGISTERED, EventKind.PROMOTION_REQUESTED}
        assert found[EventKind.MODEL_REGISTERED].source == Source.MODEL_TRIGGER
        assert (
            found[EventKind.PROMOTION_REQUESTED].version,
            found[EventKind.PROMOTION_REQUESTED].event.target,
        ) == ("2", "champion")
        woken = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert len(woken) == 2

        # the sweep's find of the same changes has the same keys: one event each
        rules = SweepRules("databricks", None, "challenger", "champion", "mlops.promote")
        swept = decide(
            [
                RegistryChange("version_created", "main.mlops.churn", "3", at_ms=10),
                RegistryChange("alias", "main.mlops.churn", "2", value="challenger"),
            ],
            SweepCursor(created_ms=0),  # a sweep that had seen neither
            rules,
            start=0,
        )
        assert {e.key for e in swept.events} == {r.key for r in found.values()}

        again = forward(UPDATES, *options, env=env)  # the trigger's retry
        assert json.loads(again.stdout.split("MLOPS_HOOKS_RESULT ", 1)[1])["new"] == 0
        assert len(ledger.list()) == 2
    finally:
        ledger.close()


def test_bad_updates_fail_in_one_line_and_record_nothing(tmp_path) -> None:
    env = {**os.environ, "MLOPS_HOOKS_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    for bad, said in (
        ("not json", "the updates are not JSON"),
        ({"full_name": "x"}, "not a JSON list of objects"),
        ([{"full_name": "m.s.x", "version": "two"}], "version 'two' is not a version number"),
    ):
        args = [
            sys.executable,
            "-m",
            "mlops_hooks.jobs.forward_updates",
            "--updates",
            bad if isinstance(bad, str) else json.dumps(bad),
        ]
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=60, env=env, check=False
        )
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and said in line
    assert (
        not (tmp_path / "ledger.db").exists()
        or "events"
        not in subprocess.run(
            ["sqlite3", str(tmp_path / "ledger.db"), "select count(*) from events"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )
