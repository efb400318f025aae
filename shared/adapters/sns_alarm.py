"""Publish a drift alarm to the alarm SNS topic (the drift_check job's way to raise one).

The message is CloudWatch-alarm shaped, so it takes the same signed path as any alarm:
SNS -> the alarm function, or SNS -> SQS -> the worker / ``serve``.
"""

from __future__ import annotations

import json
from typing import Any


def publish_alarm(
    topic_arn: str, message: dict[str, Any], *, endpoint_url: str | None = None
) -> str:
    """Publish; returns SNS's message id.

    The region is the topic's own (its ARN says it): a Databricks cluster has no AWS region
    configured. Credentials: boto3's usual chain, which on Databricks is the cluster's
    instance profile (grant it ``sns:Publish`` on the topic).
    """
    import boto3

    region = region_of(topic_arn)
    client = boto3.client("sns", endpoint_url=endpoint_url, region_name=region)
    return client.publish(TopicArn=topic_arn, Message=json.dumps(message))["MessageId"]


def region_of(topic_arn: str) -> str | None:
    """arn:aws:sns:<region>:<account>:<name> -> the region (None for anything else)."""
    parts = topic_arn.split(":")
    return parts[3] if len(parts) >= 6 and parts[0] == "arn" and parts[3] else None
