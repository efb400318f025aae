"""The signed-webhook routes, as plain ASGI endpoints.

Why not FastAPI routes: on this hot path FastAPI's per-route machinery (dependency solving,
Request and Response objects) costs more CPU than verifying, parsing and durably recording
the webhook itself (bench/ingress.py). The routes still appear in the OpenAPI document
(functions/openapi.py); everything else in the app is ordinary FastAPI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.shared.domain.events import is_repeated_request, repeated
from mlops_hooks.shared.domain.signatures import SignatureError, verify_databricks, verify_mlflow
from mlops_hooks.shared.ports.ledger import UNRECORDABLE, Status

if TYPE_CHECKING:
    from mlops_hooks.functions.runtime import Runtime
    from mlops_hooks.shared.domain.events import Event
    from mlops_hooks.shared.settings import Settings

log = logging.getLogger("mlops_hooks.edge")

Headers = dict[str, str]
WANTED_HEADERS = frozenset(
    {
        "content-length",
        "x-mlflow-signature",
        "x-mlflow-timestamp",
        "x-mlflow-delivery-id",
        "x-databricks-signature",
        "x-slack-signature",
        "x-slack-request-timestamp",
    }
)


# ASGI servers send header names in lower case (uvicorn, Mangum); a name in any other case
# is lowered before it is looked up
_WANTED_RAW = {name.encode("latin-1"): name for name in WANTED_HEADERS}


def wanted_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The headers the webhook routes read, decoded; only those are decoded (the hot path:
    0.5 against 0.9 us for decoding every name)."""
    out: Headers = {}
    for raw, value in raw_headers:
        name = _WANTED_RAW.get(raw) or _WANTED_RAW.get(raw.lower())
        if name is not None:
            out[name] = value.decode("latin-1")
    return out


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Rejected(400, "client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(send: Send, status: int, payload: dict[str, Any] | bytes) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SignedWebhook:
    """POST endpoint: size limit -> signature -> parse -> durable record -> 202."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        signing_key_setting: str,
        verify: Callable[[str, Headers, bytes, Settings], str],
        parse: Callable[[bytes, str, Settings], Event],
        env_name: str | None = None,
        ok_status: int = 202,
        empty_answer: bool = False,
    ) -> None:
        self.runtime = runtime
        self.signing_key_setting = signing_key_setting
        self.verify = verify
        self.parse = parse
        self.env_name = env_name or f"MLOPS_HOOKS_{signing_key_setting.upper()}"
        self.ok_status = ok_status
        self.empty_answer = empty_answer  # Slack: a 200 with nothing in it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            payload = await self._handle(scope, receive)
            status = self.ok_status
            if self.empty_answer:
                payload = b""
        except Rejected as exc:
            status, payload = exc.status, {"error": exc.reason}
            path = scope.get("path", "")
            if self.runtime.rejections.note(path, exc.status, exc.reason) and exc.__cause__:
                # our own failure behind the refusal (the ledger's: a full disk, say): its
                # traceback, as rarely as the refusal's line, so a flood cannot flood the log
                log.error("why %s answered %d:", path, exc.status, exc_info=exc.__cause__)
        except Exception:  # a bug, not bad input: say so without leaking internals
            log.exception("webhook %s failed", scope.get("path"))
            status, payload = 500, {"error": "internal error; the event was not recorded"}
        await send_json(send, status, payload)

    async def _handle(self, scope: Scope, receive: Receive) -> dict[str, Any] | bytes:
        runtime, settings = self.runtime, self.runtime.settings
        headers = wanted_headers(scope["headers"])
        body = await read_body(receive, headers, settings.max_body_bytes)
        delivery = ""
        if not runtime.insecure_no_signature:
            secret = settings.secret(self.signing_key_setting)
            if secret is None:
                raise Rejected(503, f"this endpoint is not configured: set {self.env_name}")
            try:
                delivery = self.verify(secret, headers, body, settings)
            except SignatureError as exc:
                raise Rejected(401, str(exc)) from None
        try:
            event = self.parse(body, delivery or headers.get("x-mlflow-delivery-id", ""), settings)
        except ValidationError as exc:  # a field the event model refuses (a key too long, ...)
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "event"
            raise Rejected(400, f"cannot make an event of it: {where}: {first['msg']}") from None
        try:
            recorded = await runtime.group_commit.submit(event)
        except UNRECORDABLE as exc:  # this payload can never be stored: say so, no retry
            raise Rejected(
                400, f"the payload cannot be recorded ({type(exc).__name__}): {_short(exc)}"
            ) from None
        except Exception as exc:  # not recorded -> not acknowledged: the sender retries
            raise Rejected(
                503, f"could not record the event ({type(exc).__name__}); retry"
            ) from exc
        if not recorded.created and is_repeated_request(event, recorded.record):
            recorded = await runtime.group_commit.submit(repeated(event))
            if recorded.created:
                log.info("%s: a repeated request, recorded as %s", event.key, recorded.id)
        if recorded.status is Status.IGNORED:
            return {
                "id": recorded.id,
                "kind": recorded.kind.value,
                "status": recorded.status.value,
                "duplicate": not recorded.created,
                "reason": recorded.record.event.reason,
            }
        # The common answer: ids, enum values and a bool need no JSON escaping.
        duplicate = "false" if recorded.created else "true"
        return (
            f'{{"id": "{recorded.id}", "kind": "{recorded.kind.value}", '
            f'"status": "{recorded.status.value}", "duplicate": {duplicate}}}'
        ).encode()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "")[:200]


def _verify_mlflow(secret: str, headers: Headers, body: bytes, settings: Settings) -> str:
    return verify_mlflow(
        secret, headers, body, tolerance_seconds=settings.signature_tolerance_seconds
    )


def _verify_databricks(secret: str, headers: Headers, body: bytes, settings: Settings) -> str:
    verify_databricks(secret, headers, body)
    return ""


def _parse_mlflow(body: bytes, delivery: str, settings: Settings) -> Event:
    from mlops_hooks.functions.mlflow_webhook import event_from_mlflow

    return event_from_mlflow(body, delivery, settings)


def _parse_databricks(body: bytes, delivery: str, settings: Settings) -> Event:
    from mlops_hooks.functions.databricks_webhook import event_from_databricks

    return event_from_databricks(body, promote_tag=settings.promote_tag)


def _verify_slack(secret: str, headers: Headers, body: bytes, settings: Settings) -> str:
    from mlops_hooks.functions.slack_actions import verify_slack

    return verify_slack(secret, headers, body, settings)


def _parse_slack(body: bytes, delivery: str, settings: Settings) -> Event:
    from mlops_hooks.functions.slack_actions import event_from_slack

    return event_from_slack(body, delivery, settings)


def webhook_endpoints(runtime: Runtime) -> dict[str, SignedWebhook]:
    return {
        "/webhooks/mlflow": SignedWebhook(
            runtime,
            signing_key_setting="mlflow_webhook_secret",
            verify=_verify_mlflow,
            parse=_parse_mlflow,
        ),
        "/webhooks/databricks": SignedWebhook(
            runtime,
            signing_key_setting="databricks_webhook_secret",
            verify=_verify_databricks,
            parse=_parse_databricks,
        ),
        "/slack/actions": SignedWebhook(
            runtime,
            signing_key_setting="slack_signing_secret",
            verify=_verify_slack,
            parse=_parse_slack,
            env_name="SLACK_SIGNING_SECRET",
            ok_status=200,
            empty_answer=True,
        ),
    }
