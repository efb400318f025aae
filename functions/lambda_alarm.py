"""AWS Lambda: CloudWatch alarm state changes delivered by SNS (ALARM only) -> drift_detected."""

from __future__ import annotations

from typing import Any

from mlops_hooks.functions.ingest import ingest
from mlops_hooks.functions.runtime import Runtime

runtime = Runtime()


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    # Errors propagate: Lambda retries the async invocation, then its on-failure target.
    return ingest(runtime.dispatcher, event)
