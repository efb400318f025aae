"""Databricks workspace-registry webhooks -> events (signature checked by the caller first)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from mlops_hooks.functions.errors import (
    Rejected,
    parse_json_object,
    require_str,
    require_version,
)
from mlops_hooks.shared.domain import events, tags
from mlops_hooks.shared.domain.events import OWN_WRITE, Event, Source

_TRANSITION_REQUESTS = {
    "TRANSITION_REQUEST_CREATED": None,  # target stage from the payload's to_stage
    "TRANSITION_REQUEST_TO_STAGING_CREATED": "Staging",
    "TRANSITION_REQUEST_TO_PRODUCTION_CREATED": "Production",
}


def event_from_databricks(body: bytes, *, promote_tag: str = tags.PROMOTE) -> Event:
    doc = parse_json_object(body)
    kind = doc.get("event")
    if not isinstance(kind, str):
        raise Rejected(400, "not a Databricks registry webhook payload: missing event")
    model, version = doc.get("model_name"), doc.get("version")
    common: dict[str, Any] = {
        "occurred_at": _occurred_at(doc.get("event_timestamp")),
        "payload": doc,
    }
    # Databricks sends no delivery id: identify the delivery by its content.
    delivery = hashlib.sha256(body).hexdigest()[:32]
    acted_on = kind == "MODEL_VERSION_CREATED" or kind in _TRANSITION_REQUESTS
    if acted_on and (model in (None, "") or version in (None, "")):
        return events.ignored(
            Source.DATABRICKS,
            delivery,
            f"Databricks {kind} without model_name/version (test ping)",
            **common,
        )
    if acted_on:  # what the key is built from: text, bounded; the version a positive integer
        model = require_str(doc, "model_name", kind)
        version = require_version(doc, "version", kind)
    if kind == "MODEL_VERSION_CREATED":
        return events.model_registered(Source.DATABRICKS, model, version, **common)
    keys = _tag_keys(doc.get("tags")) if kind == "MODEL_VERSION_TAG_SET" else []
    if keys and all(tags.written_by_us(key, promote_tag) for key in keys):
        reason = f"{OWN_WRITE}: tag {', '.join(keys)}"
        return events.ignored(Source.DATABRICKS, delivery, reason, **common)
    if kind in _TRANSITION_REQUESTS:
        target = _TRANSITION_REQUESTS[kind] or doc.get("to_stage")
        if not isinstance(target, str) or not target:
            raise Rejected(400, f"{kind}: missing to_stage")
        return events.promotion_requested(
            Source.DATABRICKS,
            model,
            version,
            require_str({"to_stage": target}, "to_stage", kind),
            stage=doc.get("from_stage"),
            **common,
        )
    return events.ignored(
        Source.DATABRICKS, delivery, f"Databricks {kind} is not acted on", **common
    )


def _tag_keys(value: object) -> list[str]:
    """The keys of a MODEL_VERSION_TAG_SET payload's ``tags: [{key, value}, ...]``."""
    if not isinstance(value, list):
        return []
    return [str(t.get("key")) for t in value if isinstance(t, dict)]


def _occurred_at(value: object) -> datetime:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return events.utcnow()
