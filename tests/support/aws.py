"""AWS set-ups the tests share, in moto's server over HTTP."""

from __future__ import annotations

from typing import Any


def bucket_notifying_queue(s3: Any, sqs: Any, bucket: str, queue: str, prefix: str = "") -> str:
    """A bucket whose ObjectCreated notifications (under ``prefix``) go to a new queue."""
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    target: dict[str, Any] = {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
    if prefix:
        target["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [target]}
    )
    return queue_url
