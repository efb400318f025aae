"""Slack, simulated: a sink for the messages `serve` posts, and what Slack sends when a
reviewer clicks a button (the form body and its signed headers). Used by the demo and the
tests."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode


def click_body(
    request_id: str,
    user: str,
    decision: str = "approve",
    *,
    action_ts: str = "1800000000.000100",
    response_url: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> bytes:
    """A ``block_actions`` interaction, form-encoded as Slack posts it."""
    payload = {
        "type": "block_actions",
        "trigger_id": f"trigger-{action_ts}",
        "user": {"id": user, "username": user.lower()},
        "response_url": response_url,
        "message": {"ts": "1800000000.000001", "blocks": blocks or []},
        "actions": [
            {
                "type": "button",
                "action_id": f"mlops_{decision}",
                "block_id": "mlops_approval",
                "value": request_id,
                "action_ts": action_ts,
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_headers(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    timestamp = str(int(time.time() if at is None else at))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature or "",
        "content-type": "application/x-www-form-urlencoded",
    }


def sent_fields(call: Any) -> dict[str, Any]:
    """What slack-sdk's WebClient sent (JSON, or a form with ``blocks`` as JSON text)."""
    if call.headers.get("content-type", "").startswith("application/json"):
        return call.json()
    form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    if "blocks" in form:
        form["blocks"] = json.loads(form["blocks"])
    return form


class SlackSink:
    """Slack's Web API (chat.postMessage) and the clicks' response URLs, recorded in memory."""

    def __init__(self) -> None:
        from mlops_hooks.functions.demo.recording_http import RecordingHTTP

        self.http = RecordingHTTP()
        self.http.route("POST", "/api/chat.postMessage")(
            lambda req: (200, {"ok": True, "channel": "C0DEMO", "ts": "1800000000.000100"})
        )
        self.http.route("POST", "/response/{id}")(lambda req: (200, "ok"))
        self.url = ""

    def start(self) -> str:
        self.url = self.http.start()
        return self.url

    def stop(self) -> None:
        if self.url:
            self.http.stop()

    def messages(self) -> list[dict[str, Any]]:
        """Everything posted to the channel, oldest first."""
        return [sent_fields(c) for c in self.http.calls("POST", "/api/chat.postMessage")]

    def answers(self) -> list[dict[str, Any]]:
        """What was sent back to clicks' response URLs."""
        return [r.json() for r in self.http.requests if r.path.startswith("/response/")]
