"""AWS Lambda: S3 ObjectCreated notifications (direct, or via EventBridge) -> data_landed."""

from __future__ import annotations

from functions.ingest import lambda_handler_for
from functions.runtime import Runtime

handler = lambda_handler_for(Runtime())
