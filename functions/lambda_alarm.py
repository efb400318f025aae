"""AWS Lambda: CloudWatch alarm state changes delivered by SNS (ALARM only) -> drift_detected."""

from __future__ import annotations

from functions.ingest import lambda_handler_for
from functions.runtime import Runtime

handler = lambda_handler_for(Runtime())
