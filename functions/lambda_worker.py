"""AWS Lambda: the SQS worker. Drains the ledger for the events its messages name.

A message is either our own wake-up (``{"mlops_event_id": ...}``, sent by the edge after
recording) or an AWS notification delivered to the queue directly (S3 -> SQS, S3 -> SNS ->
SQS, EventBridge -> SQS), which is recorded first. Powertools batch processing reports
per-message failures, so one bad message never makes SQS redeliver the whole batch.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from mlops_hooks.functions.aws_events import events_from_aws
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.shared.dispatch import Dispatcher
from mlops_hooks.shared.domain.errors import RetryableError
from mlops_hooks.shared.ports.ledger import Status

runtime = Runtime()
processor = BatchProcessor(event_type=EventType.SQS)


class RetryLater(RetryableError):
    """The event is waiting for its retry time: leave the message for SQS to redeliver."""


def process_body(dispatcher: Dispatcher, body: str, *, worker: str) -> list[str]:
    """Handle one SQS message body; returns the ids of the events it covered."""
    doc: Any = json.loads(body)
    if isinstance(doc, dict) and "mlops_event_id" in doc:
        ids = [str(doc["mlops_event_id"])]
    else:
        ids = [
            dispatcher.ledger.record(e, now=dispatcher.clock.now()).id for e in events_from_aws(doc)
        ]
    for event_id in ids:
        record = dispatcher.process(event_id, worker=worker) or dispatcher.ledger.get(event_id)
        if record is not None and record.status is Status.FAILED:
            raise RetryLater(f"event {event_id} failed; retry due at {record.due_at}")
    return ids


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    worker = getattr(context, "aws_request_id", "lambda")

    def record_handler(record: Any) -> list[str]:
        return process_body(runtime.dispatcher, record.body, worker=worker)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
