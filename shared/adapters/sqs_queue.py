"""SQS queue adapter: the HTTP and ingest functions wake the worker function through it."""

from __future__ import annotations

import json


class SqsQueue:
    def __init__(self, queue_url: str, *, endpoint_url: str | None = None) -> None:
        import boto3

        self.queue_url = queue_url
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url)

    def notify(self, event_id: str) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps({"mlops_event_id": event_id})
        )
