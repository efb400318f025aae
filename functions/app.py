"""The HTTP edge: registry webhooks in (functions/webhooks.py), events recorded, 202 out;
plus health and the read API.

Every request is verified before anything is recorded, and recorded durably before it is
acknowledged. Bad input gets a 4xx with a one-line reason, never a 500.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.functions.tokens import bearer_token
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import Status


class EdgeAPI(FastAPI):
    """FastAPI, plus a fast path: the signed-webhook POSTs go straight to their endpoints.

    Those are the hot routes (every registry event); FastAPI's middleware stack and router
    cost more per request than their whole work (bench/ingress.py). Every other request -
    and a webhook under a path prefix the fast path does not know - takes the normal route.
    """

    fast_routes: dict[str, ASGIApp]
    # Routes built on the first request that may need them (and before the OpenAPI document
    # is built), as (a part of the paths they serve, add them): a Lambda that only receives
    # webhooks never builds them. FastAPI's analysis of the read API's routes imports
    # pydantic.v1 (to rule out v1 models), ~40 ms of a cold start; the /ui pages' eight
    # routes ~25 ms more.
    late_routes: tuple[tuple[str, Callable[[], None]], ...] = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.fast_routes.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        path = scope.get("path", "")
        if any(part in path for part, _ in self.late_routes):  # no lock once they are in
            self.add_late_routes(path)
        await super().__call__(scope, receive, send)

    def add_late_routes(self, path: str | None = None) -> None:
        """Add the late routes a request for ``path`` may need: all of them when None."""
        with _LATE_LOCK:
            due = [entry for entry in self.late_routes if path is None or entry[0] in path]
            self.late_routes = tuple(entry for entry in self.late_routes if entry not in due)
            for _, add in due:
                add()


_LATE_LOCK = threading.Lock()


def create_app(runtime: Runtime | None = None) -> EdgeAPI:
    runtime = runtime or Runtime()
    app = EdgeAPI(
        title="mlops-hooks",
        version="0.1.0",
        description="Event-driven MLOps on model-registry webhooks.",
    )
    app.state.runtime = runtime

    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = " ".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg')}"[:300]}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:  # every method the path answers, not its first route's only
            headers = {**(headers or {}), "Allow": _allowed_methods(app, request.scope)}
        status = exc.status_code
        return JSONResponse({"error": str(exc.detail)}, status_code=status, headers=headers)

    from starlette.routing import Route

    from mlops_hooks.functions.openapi import exact_answers, webhook_paths
    from mlops_hooks.functions.webhooks import webhook_endpoints

    app.fast_routes = dict(webhook_endpoints(runtime))
    for path, endpoint in app.fast_routes.items():
        app.router.routes.append(Route(path, endpoint, methods=["POST"]))

    def openapi() -> dict[str, Any]:
        app.add_late_routes()
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            exact_answers(schema["paths"])
            signed = not runtime.insecure_no_signature
            schema["paths"] = {**webhook_paths(runtime.settings, signed=signed), **schema["paths"]}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def _authorize(request: Request) -> None:
        token = runtime.settings.secret("api_token")
        if token is None:
            if runtime.public:  # payloads carry Slack response_urls: never open to the world
                raise Rejected(
                    403, "the read API is off: set MLOPS_HOOKS_API_TOKEN (a bearer token) to use it"
                )
            return  # bound to loopback: this machine's users only
        given = bearer_token(request.headers.get("authorization"))
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise Rejected(401, "missing or wrong bearer token (MLOPS_HOOKS_API_TOKEN)")

    def add_ui() -> None:  # the monitoring pages (Jinja2 is imported on the first page)
        from mlops_hooks.functions.ui.routes import add_ui

        add_ui(app, runtime)

    def add_read_api() -> None:
        _add_read_api(app, runtime, _authorize)

    app.late_routes = (("", add_read_api), ("/ui", add_ui))  # "": in any path
    return app


def _add_read_api(app: EdgeAPI, runtime: Runtime, authorize: Callable[[Request], None]) -> None:
    """Health and the ledger's read API."""

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        # refused deliveries by status since start: a wrong secret shows up here as 401s; the
        # policy in force (its sha256's first 12 digits): a policy edit shows up here once read
        try:
            policy = runtime.dispatcher.deps.loaded_policy().digest
        except Exception:  # an unreadable policy is the workers' error to report, not health's
            policy = None
        return {"status": "ok", "policy": policy, "rejected": runtime.rejections.counts()}

    @app.get("/events")
    async def list_events(
        request: Request,
        status: Status | None = None,
        kind: EventKind | None = None,
        limit: int = Query(default=100, ge=1, le=1000),
        all: bool = Query(
            default=False,
            description="Also the echoes of our own writes and the housekeeping ticks.",
        ),
    ) -> list[dict[str, Any]]:
        authorize(request)
        ledger = runtime.dispatcher.ledger
        records = await to_thread.run_sync(
            lambda: ledger.list(status=status, kind=kind, limit=limit, everything=all)
        )
        return [r.summary() for r in records]

    @app.get("/events/{event_id}")
    async def get_event(request: Request, event_id: str) -> dict[str, Any]:
        authorize(request)
        record = await to_thread.run_sync(runtime.dispatcher.ledger.get, event_id)
        if record is None:
            raise Rejected(404, f"no event with id {event_id}")
        return record.model_dump(mode="json")


def _allowed_methods(app: EdgeAPI, scope: Scope) -> str:
    """The methods of every route on this request's path (Starlette's 405 names those of the
    first one only: /ui/login's GET page, not its POST)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in app.router.routes:
        if route.matches(scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))
