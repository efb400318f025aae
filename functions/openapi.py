"""The OpenAPI document, as exact as the parsers: what a body must hold, every answer.

The signed-webhook routes are plain ASGI endpoints (functions/webhooks.py), so their operations
are written here; the request schemas say what functions/mlflow_webhook.py and
functions/databricks_webhook.py require (JSON Schema 2020-12 ``if``/``then`` for the fields an
event kind needs). bench/fuzz.py holds the document and the service to each other with
schemathesis. The FastAPI routes get their refusals documented as they are answered: a 400 with
one line (not FastAPI's 422), 401/403 for the token, 404 for an unknown event.
"""

from __future__ import annotations

from typing import Any

from mlops_hooks.functions.errors import MAX_FIELD_CHARS, MAX_VERSION_DIGITS
from mlops_hooks.shared.domain.signatures import MAX_HEADER_CHARS
from mlops_hooks.shared.settings import Settings

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "why, in one line"}},
}
NAME = {"type": "string", "minLength": 1, "maxLength": MAX_FIELD_CHARS}
VERSION = {
    "description": "a positive integer, as registries number versions",
    "oneOf": [
        {"type": "string", "pattern": f"^[1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}}$"},
        {"type": "integer", "minimum": 1, "maximum": 10**MAX_VERSION_DIGITS - 1},
    ],
}


def answer(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": ERROR}}}


REFUSALS = {
    "400": answer("Malformed or unusable input (the reason in one line); nothing recorded"),
    "401": answer("Missing or invalid signature, or a stale timestamp; nothing recorded"),
    "413": answer("Body over the size limit (MLOPS_HOOKS_MAX_BODY_BYTES, 1 MiB)"),
    "503": answer("The route's secret is not configured, or the ledger could not record it"),
}
RECORDED = {
    "description": "Recorded once (a re-delivery says duplicate); ignored events say why",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["id", "kind", "status", "duplicate"],
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": "string"},
                    "status": {"type": "string"},
                    "duplicate": {"type": "boolean"},
                    "reason": {"type": "string"},
                },
            }
        }
    },
}


def _when(condition: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    return {"if": condition, "then": then}


def _versioned(**more: Any) -> dict[str, Any]:
    """``data`` (or the document) naming a model version, and what else the kind needs."""
    return {
        "type": "object",
        "required": ["name", "version", *more],
        "properties": {"name": NAME, "version": VERSION, **more},
    }


def mlflow_body(settings: Settings) -> dict[str, Any]:
    def event(entity: str, action: str, **data: Any) -> dict[str, Any]:
        condition: dict[str, Any] = {
            "required": ["entity", "action"],
            "properties": {"entity": {"const": entity}, "action": {"const": action}},
        }
        if data:
            condition["required"].append("data")
            condition["properties"]["data"] = {
                "type": "object",
                "required": list(data),
                "properties": {k: {"const": v} for k, v in data.items()},
            }
        return condition

    return {
        "type": "object",
        "required": ["entity", "action", "data"],
        "properties": {
            "entity": {"type": "string", "examples": ["model_version"]},
            "action": {"type": "string", "examples": ["created"]},
            "data": {"type": "object"},
            "timestamp": {"description": "ISO 8601; anything else means now"},
            "workspace": {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_FIELD_CHARS},
        },
        "allOf": [
            _when(event("model_version", "created"), {"properties": {"data": _versioned()}}),
            _when(
                event("model_version_alias", "created", alias=settings.challenger_alias),
                {"properties": {"data": _versioned()}},
            ),
            _when(
                event("model_version_tag", "set", key=settings.promote_tag),
                {"properties": {"data": _versioned(value=NAME)}},
            ),
        ],
    }


ACTED_ON = [
    "MODEL_VERSION_CREATED",
    "TRANSITION_REQUEST_CREATED",
    "TRANSITION_REQUEST_TO_STAGING_CREATED",
    "TRANSITION_REQUEST_TO_PRODUCTION_CREATED",
]


def databricks_body() -> dict[str, Any]:
    named = {"not": {"enum": [None, ""]}}  # present: a payload without both is a test ping

    def acted_on(events: list[str]) -> dict[str, Any]:
        return {
            "required": ["event", "model_name", "version"],
            "properties": {"event": {"enum": events}, "model_name": named, "version": named},
        }

    return {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {"type": "string", "examples": ACTED_ON},
            "event_timestamp": {"description": "milliseconds since the epoch"},
        },
        "allOf": [
            _when(
                acted_on(ACTED_ON),
                {"properties": {"model_name": NAME, "version": VERSION}},
            ),
            _when(
                acted_on(["TRANSITION_REQUEST_CREATED"]),
                {"required": ["to_stage"], "properties": {"to_stage": NAME}},
            ),
        ],
    }


def _headers(names: list[str], *, signed: bool) -> list[dict[str, Any]]:
    """The signature headers; an unsigned server (--insecure-no-signature) reads none."""
    if not signed:
        return []
    return [
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string", "maxLength": MAX_HEADER_CHARS},
        }
        for name in names
    ]


def webhook_paths(settings: Settings, *, signed: bool) -> dict[str, Any]:
    """The three signed routes (``signed=False``: serve --insecure-no-signature)."""

    def route(summary: str, headers: list[str], body: dict[str, Any]) -> dict[str, Any]:
        return {
            "post": {
                "summary": summary,
                "parameters": _headers(headers, signed=signed),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {"202": RECORDED, **REFUSALS},
            }
        }

    slack = route(
        "Slack interactivity: Approve / Reject clicks (slack_sdk SignatureVerifier, 5-minute "
        "window); answered with an empty 200, decided by the approval handler",
        ["X-Slack-Signature", "X-Slack-Request-Timestamp"],
        {},
    )
    slack["post"]["requestBody"]["content"] = {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["payload"],
                "properties": {
                    "payload": {
                        "type": "string",
                        "description": "Slack's interaction, a JSON object",
                        "contentMediaType": "application/json",
                        "contentSchema": {"type": "object"},
                    }
                },
            }
        }
    }
    slack["post"]["responses"] = {
        "200": {"description": "Recorded (an empty body, as Slack expects)"},
        **REFUSALS,
    }
    return {
        "/webhooks/mlflow": route(
            "MLflow 3 OSS registry webhook (X-MLflow-Signature, 300 s timestamp window)",
            ["X-MLflow-Signature", "X-MLflow-Timestamp", "X-MLflow-Delivery-Id"],
            mlflow_body(settings),
        ),
        "/webhooks/databricks": route(
            "Databricks workspace-registry webhook (X-Databricks-Signature: hex HMAC-SHA256)",
            ["X-Databricks-Signature"],
            databricks_body(),
        ),
        "/slack/actions": slack,
    }


def exact_answers(paths: dict[str, Any]) -> None:
    """FastAPI's routes as they answer: 400 (one line) for bad parameters, 401/403/404."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses["400"] = answer("A parameter is not valid (the reason in one line)")
            if path.startswith("/events"):
                responses["401"] = answer("Missing or wrong bearer token (MLOPS_HOOKS_API_TOKEN)")
                responses["403"] = answer(
                    "The read API is off: serve is bound off loopback and no token is set"
                )
            if "{event_id}" in path:
                responses["404"] = answer("No event with that id")
            if path.startswith("/ui"):
                _ui_answers(path, method, operation, responses)


# the /ui routes (functions/ui/routes.py): who may see a page and who may act, the forms they
# read themselves (a body FastAPI does not see), and the pages that may not be there
UI_READ = ("/ui", "/ui/models/{model}", "/ui/events", "/ui/events/{event_id}")
UI_NOT_FOUND = {
    "/ui/models/{model}": "No events about a model of that name",
    "/ui/static/{path}": "No such file (the charts' scripts only)",
}
UI_FORMS: dict[str, tuple[dict[str, Any], str]] = {
    "/ui/login": (
        {
            "token": {"type": "string", "description": "the API token (MLOPS_HOOKS_API_TOKEN)"},
            "name": {"type": "string", "description": "who signs in (shown on their replays)"},
        },
        "Signed in: the session cookie is set; on to /ui",
    ),
    "/ui/events/{event_id}/replay": (
        {"csrf": {"type": "string", "description": "the page's CSRF token"}},
        "Replayed, or why not, on the event's page",
    ),
}


def _ui_answers(path: str, method: str, operation: dict, responses: dict) -> None:
    from mlops_hooks.functions.ui.routes import FORM_TYPE, MAX_FORM_BYTES

    if path in UI_READ:
        responses["401"] = answer("Not signed in: /ui/login, or the API token as a bearer header")
        responses["403"] = answer("The UI is off: serve is bound off loopback and no token is set")
    if path in UI_NOT_FOUND:
        responses["404"] = answer(UI_NOT_FOUND[path])
    if path in UI_FORMS and method == "post":
        fields, done = UI_FORMS[path]
        schema = {"type": "object", "required": sorted(fields), "properties": fields}
        operation["requestBody"] = {"required": True, "content": {FORM_TYPE: {"schema": schema}}}
        responses.pop("200", None)
        responses["303"] = {
            "description": done,
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
        responses["400"] = answer("A field is not valid (the reason in one line)")
        responses["401"] = answer("Wrong API token, or not signed in")
        responses["403"] = answer("No API token is set, or the form's CSRF token is wrong")
        responses["413"] = answer(f"The form is larger than {MAX_FORM_BYTES} bytes")
        responses["415"] = answer(f"Not sent as {FORM_TYPE}")
