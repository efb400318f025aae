"""The S3, schedule and alarm Lambda functions, fed what moto's S3 and SNS really send."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from mlops_hooks.functions import lambda_alarm, lambda_s3, lambda_schedule, lambda_worker
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.settings import Settings
from tests.integration.test_sqs_worker import Context, drain, lambda_event
from tests.support.fakes import Wakes


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    wakes = Wakes()
    settings = Settings(state_dir=tmp_path)
    rt = Runtime(settings, bootstrap(settings, ledger=ledger, queue=wakes, handlers={}))
    for module in (lambda_alarm, lambda_s3, lambda_schedule, lambda_worker):
        monkeypatch.setattr(module, "runtime", rt)
    rt.wakes = wakes  # type: ignore[attr-defined]
    yield rt
    ledger.close()


def test_s3_function_records_once_and_wakes_the_worker_per_delivery(runtime, moto_server) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server)
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    name = f"b-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket=name, Key="landing/jan 2026.parquet", Body=b"x")
    bodies = [json.loads(m["Body"]) for m in drain(sqs, queue_url)]
    # S3 (and moto) first send an s3:TestEvent when the configuration is set.
    assert bodies[0].get("Event") == "s3:TestEvent"
    assert lambda_s3.handler(bodies[0], Context()) == {"recorded": []}
    [notification] = [b for b in bodies if "Records" in b]  # what S3 hands a Lambda directly

    first = lambda_s3.handler(notification, Context())
    second = lambda_s3.handler(notification, Context())
    assert [r["duplicate"] for r in first["recorded"] + second["recorded"]] == [False, True]
    [record] = runtime.dispatcher.ledger.list()
    assert record.event.object_key == "landing/jan 2026.parquet"
    # both deliveries found the event still waiting, so both woke a worker (at-least-once)
    assert runtime.wakes.ids == [record.id, record.id]


def test_schedule_function_keys_ticks_by_rule_and_time(runtime) -> None:
    tick = {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-23T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:1:rule/nightly"],
        "detail": {"task": "batch_inference", "model": "churn"},
    }
    lambda_schedule.handler(tick, Context())
    lambda_schedule.handler({**tick, "id": "e2"}, Context())  # redelivered tick
    lambda_schedule.handler({**tick, "time": "2026-11-24T06:00:00Z"}, Context())
    records = runtime.dispatcher.ledger.list(kind=EventKind.SCHEDULED)
    assert len(records) == 2 and {r.event.task for r in records} == {"batch_inference"}


def test_alarm_via_real_sns_to_sqs_becomes_drift_detected(runtime, moto_server) -> None:
    sns = boto3.client("sns", endpoint_url=moto_server)
    sqs = boto3.client("sqs", endpoint_url=moto_server)
    suffix = uuid.uuid4().hex[:8]
    topic = sns.create_topic(Name=f"alarms-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"alarms-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    alarm = {
        "AlarmName": "churn-feature-psi",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed: psi 0.4 > 0.25",
        "StateChangeTime": "2026-11-23T10:05:00.000+0000",
        "Trigger": {
            "MetricName": "psi",
            "Namespace": "mlops",
            "Dimensions": [{"name": "model", "value": "churn"}],
        },
    }
    sns.publish(TopicArn=topic, Message=json.dumps(alarm))
    sns.publish(
        TopicArn=topic,
        Message=json.dumps({**alarm, "NewStateValue": "OK", "StateChangeTime": "2026-11-23T11:00"}),
    )
    messages = drain(sqs, queue_url)
    assert len(messages) == 2
    result = lambda_worker.handler(lambda_event(messages, queue_url), Context())
    assert result == {"batchItemFailures": []}
    [drift] = runtime.dispatcher.ledger.list(kind=EventKind.DRIFT_DETECTED)
    assert drift.model == "churn" and drift.status is Status.DONE
    [ok] = runtime.dispatcher.ledger.list(kind=EventKind.IGNORED)
    assert "OK" in (ok.event.reason or "")

    # The same alarm delivered to the alarm function directly (Lambda's SNS event shape).
    sns_event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:sub",
                "Sns": json.loads(messages[0]["Body"]),
            }
        ]
    }
    [again] = lambda_alarm.handler(sns_event, Context())["recorded"]
    assert again == {"id": drift.id, "kind": "drift_detected", "duplicate": True}
