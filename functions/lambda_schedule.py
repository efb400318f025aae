"""AWS Lambda: EventBridge schedules -> scheduled (the task comes from the rule's input)."""

from __future__ import annotations

from functions.ingest import lambda_handler_for
from functions.runtime import Runtime

handler = lambda_handler_for(Runtime())
