"""Slack interactivity (``POST /slack/actions``): a reviewer's Approve / Reject click -> event.

The edge only verifies, parses and records: the click becomes an ``approval`` event keyed by
the click itself (request, user, action_ts), so Slack's retries of one delivery collapse to one
event. Whether the user may decide, and what the decision does, is the approval handler's
business (handlers/approval.py), which answers through the click's ``response_url``. Slack
wants a 200 within 3 s and ignores the body, so the answer here is an empty 200.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import Event, Source
from mlops_hooks.shared.domain.signatures import MAX_HEADER_CHARS, SignatureError, unix_timestamp

if TYPE_CHECKING:
    from mlops_hooks.shared.settings import Settings

SLACK_SIGNATURE = "x-slack-signature"
SLACK_TIMESTAMP = "x-slack-request-timestamp"


def verify_slack(secret: str, headers: dict[str, str], body: bytes, settings: Settings) -> str:
    """slack_sdk's SignatureVerifier (HMAC-SHA256, constant-time compare, 5-minute window)."""
    from mlops_hooks.shared.adapters.slack_signature import slack_request_is_valid

    timestamp, signature = headers.get(SLACK_TIMESTAMP), headers.get(SLACK_SIGNATURE)
    if not timestamp or not signature:
        raise SignatureError(f"missing {SLACK_SIGNATURE} or {SLACK_TIMESTAMP} header")
    unix_timestamp(timestamp, SLACK_TIMESTAMP)  # strict digits: slack-sdk would int() it
    if len(signature) > MAX_HEADER_CHARS:
        raise SignatureError(f"{SLACK_SIGNATURE} is longer than {MAX_HEADER_CHARS} characters")
    if not slack_request_is_valid(secret, body, timestamp, signature):
        raise SignatureError(
            f"{SLACK_SIGNATURE} does not match the body, or the request is over 5 minutes old"
        )
    return ""


def event_from_slack(body: bytes, delivery: str, settings: Settings) -> Event:
    from mlops_hooks.shared.adapters.slack_notifier import DECISIONS

    payload = _interaction(body)
    kind = payload.get("type")
    trigger = str(payload.get("trigger_id") or payload.get("action_ts") or "")
    if kind != "block_actions":
        return events.ignored(Source.SLACK, trigger, f"Slack {kind} interactions are not acted on")
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise Rejected(400, "block_actions payload without actions")
    ours = [a for a in actions if isinstance(a, dict) and a.get("action_id") in DECISIONS]
    if not ours:
        names = ", ".join(str(a.get("action_id")) for a in actions if isinstance(a, dict))
        return events.ignored(Source.SLACK, trigger, f"Slack action {names} is not acted on")
    action = ours[0]
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    user_id, request_id = user.get("id"), action.get("value")
    action_ts = action.get("action_ts")
    for name, value in (("user.id", user_id), ("value", request_id), ("action_ts", action_ts)):
        if not isinstance(value, str) or not value:
            raise Rejected(400, f"block_actions payload: missing {name}")
    decision = DECISIONS[action["action_id"]]
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    return events.approval(
        f"{request_id}:{user_id}:{action_ts}",
        reason=f"{decision} by {user_id}",
        delivery_id=trigger or None,
        payload={
            "request_id": request_id,
            "decision": decision,
            "user_id": user_id,
            "user_name": str(user.get("username") or user.get("name") or user_id),
            "response_url": payload.get("response_url"),
            "message_blocks": message.get("blocks") or [],
            "action_ts": action_ts,
        },
    )


def _interaction(body: bytes) -> dict[str, Any]:
    """Slack posts ``application/x-www-form-urlencoded`` with one field: ``payload`` (JSON)."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "body is not a form-encoded Slack interaction") from None
    values = form.get("payload")
    if not values:
        raise Rejected(400, "Slack interaction without a payload field")
    try:
        payload = json.loads(values[0])
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Rejected(400, "payload must be a JSON object")
    return payload
