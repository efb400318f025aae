"""The drift job's alarm on moto's SNS over HTTP, from a process with no AWS region configured
(a Databricks cluster): the topic's ARN says where it is."""

from __future__ import annotations

import json

import boto3
import pytest

from mlops_hooks.shared.adapters.sns_alarm import publish_alarm, region_of


def test_the_alarm_reaches_a_topic_in_another_region_with_no_region_configured(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="eu-west-1")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="eu-west-1")
    topic = sns.create_topic(Name="drift-alarms")["TopicArn"]
    queue = sqs.create_queue(QueueName="drift-alarms-seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)

    assert publish_alarm(topic, {"AlarmName": "churn-psi"}, endpoint_url=moto_server)
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"]) == {"AlarmName": "churn-psi"}
    assert topic.startswith("arn:aws:sns:eu-west-1:")


def test_region_of_reads_only_an_sns_arn() -> None:
    assert region_of("arn:aws:sns:eu-west-1:123456789012:drift") == "eu-west-1"
    assert region_of("drift") is None and region_of("arn:aws:sns::1:x") is None
