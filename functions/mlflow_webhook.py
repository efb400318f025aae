"""MLflow 3 OSS registry webhooks -> events (the signature is checked by the caller first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlops_hooks.functions.errors import (
    Rejected,
    parse_json_object,
    require_str,
    require_version,
)
from mlops_hooks.shared.domain import events, tags
from mlops_hooks.shared.domain.events import OWN_WRITE, Event, Source
from mlops_hooks.shared.settings import Settings

# What MLflow's "Test" button (mlflow.webhooks.delivery.test_webhook) sends for
# model_version.created: its example payload, with no test marker. (MLflow 3.17's
# get_example_payload_for_event; tests/fixtures/mlflow/ keeps it, a test compares the two.)
TEST_DELIVERY = {
    "name": "example_model",
    "version": "1",
    "source": "models:/123",
    "run_id": "abcd1234abcd5678",
    "tags": {"example_key": "example_value"},
    "description": "An example model version",
}


def event_from_mlflow(body: bytes, delivery_id: str, settings: Settings) -> Event:
    doc = parse_json_object(body)
    entity, action, data = doc.get("entity"), doc.get("action"), doc.get("data")
    if not isinstance(entity, str) or not isinstance(action, str) or not isinstance(data, dict):
        raise Rejected(400, "not an MLflow webhook payload: expected entity, action and data")
    kind = f"{entity}.{action}"
    common: dict[str, Any] = {
        "delivery_id": delivery_id,
        "occurred_at": _occurred_at(doc.get("timestamp")),
        "payload": doc,
    }
    if doc.get("workspace") is not None:  # a server with MLFLOW_ENABLE_WORKSPACES
        common["workspace"] = require_str(doc, "workspace", kind)
    if kind == "model_version.created" and data == TEST_DELIVERY:
        # recorded for the audit trail (a test arrived), keyed by its delivery: a real
        # example_model v1 later still gets its own key
        return events.ignored(Source.MLFLOW, delivery_id, "test delivery", **common)
    if kind == "model_version_tag.set" and tags.written_by_us(
        data.get("key"), settings.promote_tag
    ):
        return events.ignored(
            Source.MLFLOW, delivery_id, f"{OWN_WRITE}: tag {data.get('key')}", **common
        )
    alias = data.get("alias")
    if kind in _ALIAS_MOVES and isinstance(alias, str) and alias in _managed_aliases(settings):
        # only the promotion gate and a rollback move these: the webhook is our own move coming
        # back (kept, with the version, for the audit trail; never acted on)
        return events.ignored(
            Source.MLFLOW,
            delivery_id,
            f"{OWN_WRITE}: alias {alias} {_ALIAS_MOVES[kind]} v{data.get('version')}",
            **common,
        )
    if kind == "model_version.created":
        return events.model_registered(
            Source.MLFLOW,
            require_str(data, "name", kind),
            require_version(data, "version", kind),
            **common,
        )
    if kind == "model_version_alias.created" and data.get("alias") == settings.challenger_alias:
        # Setting the challenger alias asks for the challenger to become champion.
        return events.promotion_requested(
            Source.MLFLOW,
            require_str(data, "name", kind),
            require_version(data, "version", kind),
            settings.champion_alias,
            alias=settings.challenger_alias,
            **common,
        )
    if kind == "model_version_tag.set" and data.get("key") == settings.promote_tag:
        return events.promotion_requested(
            Source.MLFLOW,
            require_str(data, "name", kind),
            require_version(data, "version", kind),
            require_str(data, "value", kind),
            **common,
        )
    return events.ignored(Source.MLFLOW, delivery_id, f"MLflow {kind} is not acted on", **common)


_ALIAS_MOVES = {"model_version_alias.created": "->", "model_version_alias.deleted": "off"}


def _managed_aliases(settings: Settings) -> set[str]:
    return {settings.champion_alias, settings.previous_alias}


def _occurred_at(value: object) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return events.utcnow()
