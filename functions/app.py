"""The HTTP edge: registry webhooks in, events recorded, 202 out; plus the read API.

Every request is verified before anything is recorded, and recorded durably before it is
acknowledged. Bad input gets a 4xx with a one-line reason, never a 500.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from functions.errors import Rejected
from functions.runtime import Runtime
from shared.events import Event, EventKind
from shared.ledger import Status
from shared.signatures import SignatureError, verify_databricks, verify_mlflow

log = logging.getLogger("mlops_hooks.edge")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, f"body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _secret(runtime: Runtime, name: str, env: str) -> str | None:
    if runtime.insecure_no_signature:
        return None
    secret = runtime.settings.secret(name)
    if secret is None:
        raise Rejected(503, f"this endpoint is not configured: set {env}")
    return secret


async def _accept(runtime: Runtime, event: Event) -> JSONResponse:
    try:
        recorded = await to_thread.run_sync(runtime.dispatcher.submit, event)
    except Exception as exc:  # not recorded -> not acknowledged: the sender will retry
        log.exception("ledger write failed for %s", event.key)
        raise Rejected(503, f"could not record the event ({type(exc).__name__}); retry") from exc
    record = recorded.record
    body: dict[str, Any] = {
        "id": record.id,
        "kind": record.kind.value,
        "status": record.status.value,
        "duplicate": not recorded.created,
    }
    if record.status is Status.IGNORED:
        body["reason"] = record.event.reason
    return JSONResponse(body, status_code=202)


def create_app(runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime()
    app = FastAPI(
        title="mlops-hooks",
        version="0.1.0",
        description="Event-driven MLOps on model-registry webhooks.",
    )
    app.state.runtime = runtime

    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/mlflow", status_code=202)
    async def mlflow_webhook(request: Request) -> JSONResponse:
        """MLflow 3 OSS registry webhook (X-MLflow-Signature, 300 s timestamp window)."""
        settings = runtime.settings
        body = await _read_body(request, settings.max_body_bytes)
        secret = _secret(runtime, "mlflow_webhook_secret", "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET")
        delivery_id = request.headers.get("x-mlflow-delivery-id") or ""
        if secret is not None:
            try:
                delivery_id = verify_mlflow(
                    secret,
                    request.headers,
                    body,
                    tolerance_seconds=settings.signature_tolerance_seconds,
                )
            except SignatureError as exc:
                raise Rejected(401, str(exc)) from None
        from functions.mlflow_webhook import event_from_mlflow

        return await _accept(runtime, event_from_mlflow(body, delivery_id, settings))

    @app.post("/webhooks/databricks", status_code=202)
    async def databricks_webhook(request: Request) -> JSONResponse:
        """Databricks workspace-registry webhook (X-Databricks-Signature, hex HMAC-SHA256)."""
        body = await _read_body(request, runtime.settings.max_body_bytes)
        secret = _secret(
            runtime, "databricks_webhook_secret", "MLOPS_HOOKS_DATABRICKS_WEBHOOK_SECRET"
        )
        if secret is not None:
            try:
                verify_databricks(secret, request.headers, body)
            except SignatureError as exc:
                raise Rejected(401, str(exc)) from None
        from functions.databricks_webhook import event_from_databricks

        return await _accept(runtime, event_from_databricks(body))

    def _authorize(request: Request) -> None:
        token = runtime.settings.secret("api_token")
        if token is None:
            return
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Rejected(401, "missing or wrong bearer token (MLOPS_HOOKS_API_TOKEN)")

    @app.get("/events")
    async def list_events(
        request: Request,
        status: Status | None = None,
        kind: EventKind | None = None,
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        _authorize(request)
        ledger = runtime.dispatcher.ledger
        records = await to_thread.run_sync(
            lambda: ledger.list(status=status, kind=kind, limit=limit)
        )
        return [r.summary() for r in records]

    @app.get("/events/{event_id}")
    async def get_event(request: Request, event_id: str) -> dict[str, Any]:
        _authorize(request)
        record = await to_thread.run_sync(runtime.dispatcher.ledger.get, event_id)
        if record is None:
            raise Rejected(404, f"no event with id {event_id}")
        return record.model_dump(mode="json")

    return app
