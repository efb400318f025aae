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
    """Publish; returns SNS's message id. Region and credentials: boto3's usual chain."""
    import boto3

    client = boto3.client("sns", endpoint_url=endpoint_url)
    return client.publish(TopicArn=topic_arn, Message=json.dumps(message))["MessageId"]
