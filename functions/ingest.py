"""Shared by the non-HTTP Lambda functions: AWS payload -> events -> ledger."""

from __future__ import annotations

from typing import Any

from mlops_hooks.functions.aws_events import events_from_aws
from mlops_hooks.shared.dispatch import Dispatcher


def ingest(dispatcher: Dispatcher, doc: Any) -> dict[str, Any]:
    """Record every event in the payload (idempotently); report what was recorded."""
    recorded = [dispatcher.submit(event) for event in events_from_aws(doc)]
    return {
        "recorded": [
            {"id": r.id, "kind": r.kind.value, "duplicate": not r.created} for r in recorded
        ]
    }
