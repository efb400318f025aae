"""S3 -> SQS -> the SQS worker Lambda, all AWS pieces in moto's server over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from mlops_hooks.functions import lambda_worker
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.domain.events import Event, EventKind
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.ports.outcome import Outcome
from mlops_hooks.shared.ports.runtime import NoQueue
from mlops_hooks.shared.settings import Settings
from tests.support.aws import bucket_notifying_queue


@dataclass
class Context:
    aws_request_id: str = "req-1"
    function_name: str = "worker"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:worker"


@pytest.fixture
def aws(moto_server: str) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    s3 = boto3.client("s3", endpoint_url=moto_server)
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    bucket, queue_name = f"landing-{suffix}", f"events-{suffix}"
    queue_url = bucket_notifying_queue(s3, sqs, bucket, queue_name, prefix="landing/")
    ledger = DynamoDBLedger(f"ledger-{suffix}", endpoint_url=moto_server, create=True)
    yield {"s3": s3, "sqs": sqs, "bucket": bucket, "queue_url": queue_url, "ledger": ledger}


def drain(sqs, queue_url: str) -> list[dict]:
    messages: list[dict] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not got:
            return messages
        messages.extend(got)
        for m in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def lambda_event(messages: list[dict], queue_url: str) -> dict:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1",
                    "SenderId": "s3",
                    "ApproximateFirstReceiveTimestamp": "1",
                },
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:"
                + queue_url.rsplit("/", 1)[1],
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def test_object_put_reaches_the_worker_as_one_data_landed_with_the_decoded_key(
    aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Event] = []
    dispatcher = bootstrap(
        Settings(),
        ledger=aws["ledger"],
        queue=NoQueue(),
        handlers={EventKind.DATA_LANDED: lambda e, d: seen.append(e) or Outcome()},
    )
    monkeypatch.setattr(lambda_worker, "runtime", Runtime(dispatcher.deps.settings, dispatcher))

    key = "landing/2026-11-23/telco churn+extra.csv"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"customerID,Churn\n1,No\n")
    aws["s3"].put_object(Bucket=aws["bucket"], Key="elsewhere/x.csv", Body=b"a\n")
    messages = drain(aws["sqs"], aws["queue_url"])
    assert messages, "moto delivered no S3 notification to SQS"

    # SQS is at-least-once: deliver the same messages twice, plus one garbage message.
    batch = lambda_event(messages + messages, aws["queue_url"])
    batch["Records"].append({**batch["Records"][0], "messageId": "garbage", "body": "{not json"})
    result = lambda_worker.handler(batch, Context())

    assert result == {"batchItemFailures": [{"itemIdentifier": "garbage"}]}
    landed = aws["ledger"].list(kind=EventKind.DATA_LANDED)
    assert len(landed) == 1
    record = landed[0]
    assert record.event.object_key == key and record.event.bucket == aws["bucket"]
    assert record.status is Status.DONE and record.deliveries == 2
    assert [e.object_key for e in seen] == [key]


def test_wake_up_message_runs_a_recorded_event_and_failures_are_left_for_redelivery(
    aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_hooks.shared.domain import events

    calls: list[int] = []

    def flaky(event: Event, deps) -> Outcome:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return Outcome()

    settings = Settings(retry_base_seconds=0.01)
    dispatcher = bootstrap(
        settings, ledger=aws["ledger"], queue=NoQueue(), handlers={EventKind.DATA_LANDED: flaky}
    )
    monkeypatch.setattr(lambda_worker, "runtime", Runtime(settings, dispatcher))
    rec = dispatcher.submit(events.data_landed(aws["bucket"], "landing/a.csv", "s1")).record
    wake = {
        "MessageId": "m1",
        "ReceiptHandle": "r",
        "MD5OfBody": "x",
        "Body": json.dumps({"mlops_event_id": rec.id}),
    }
    # The only message failed: Powertools fails the whole invocation, SQS redelivers it.
    with pytest.raises(BatchProcessingError, match="All records failed"):
        lambda_worker.handler(lambda_event([wake], aws["queue_url"]), Context())
    failed = aws["ledger"].get(rec.id)
    assert failed is not None and failed.status is Status.FAILED
    time.sleep(0.05)
    second = lambda_worker.handler(lambda_event([wake], aws["queue_url"]), Context())
    assert second == {"batchItemFailures": []}
    final = aws["ledger"].get(rec.id)
    assert final is not None and final.status is Status.DONE and final.attempts == 2
