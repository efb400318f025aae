"""`serve`'s `/ui` pages: models, a model, events, an event (and its Replay), sign-in.

Everything is read in a worker thread (the ledger, the registry) and rendered by Jinja2 with
autoescaping on: every value from a registry, a payload or a report is data, never markup."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

# at module level: FastAPI reads the routes' annotations by name (this module is imported
# by create_app only, beside FastAPI itself)
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.functions.ui.auth import COOKIE, UiAuth
from mlops_hooks.functions.ui.templating import environment
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import Status

STATIC_DIR = Path(__file__).parent / "static"
STATIC = frozenset(  # served as they are: an allow-list, no path from the request is opened
    {"charts.js", "vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js"}
)
EVENTS_SHOWN = 5000  # the newest records a page looks through


def add_ui(app: Any, runtime: Any) -> None:
    from anyio import to_thread

    from mlops_hooks.functions.ui import pages

    auth = UiAuth(runtime)

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        user = auth.user(request)
        context.update(user=user, csrf=auth.csrf(user), token_set=auth.token is not None)
        html = environment().get_template(template).render(**context)
        return HTMLResponse(html, headers=security_headers(runtime.settings))

    @app.get("/ui", response_class=HTMLResponse)
    async def models_page(request: Request) -> HTMLResponse:
        auth.require_read(request)
        found = await to_thread.run_sync(pages.models, runtime)
        return page(request, "models.html", **found)

    @app.get("/ui/models/{model:path}", response_class=HTMLResponse)
    async def model_page(request: Request, model: str) -> HTMLResponse:
        auth.require_read(request)
        found = await to_thread.run_sync(pages.model, runtime, model)
        if found is None:
            raise Rejected(404, f"no events about a model named {model}")
        return page(request, "model.html", **found)

    @app.get("/ui/events", response_class=HTMLResponse)
    async def events_page(
        request: Request,
        kind: str = Query(default="", json_schema_extra=_one_of(EventKind)),
        status: str = Query(default="", json_schema_extra=_one_of(Status)),
        model: str = "",
        since: str = Query(
            default="",
            description="Only events received at or after this time (ISO 8601)",
            json_schema_extra={"anyOf": [{"maxLength": 0}, {"format": "date-time"}]},
        ),
        all: bool = False,
        limit: int = Query(default=200, ge=1, le=EVENTS_SHOWN),
    ) -> HTMLResponse:
        auth.require_read(request)
        filters = pages.EventFilters.parse(kind, status, model, since, all, limit)
        found = await to_thread.run_sync(pages.events, runtime, filters)
        return page(request, "events.html", **found)

    @app.get("/ui/events/{event_id}", response_class=HTMLResponse)
    async def event_page(request: Request, event_id: str, replayed: str = "") -> HTMLResponse:
        auth.require_read(request)
        found = await to_thread.run_sync(pages.event, runtime, event_id)
        if found is None:
            raise Rejected(404, f"no event with id {event_id}")
        return page(request, "event.html", replayed=replayed, **found)

    @app.post("/ui/events/{event_id}/replay")
    async def replay(request: Request, event_id: str) -> Any:
        user = auth.require_act(request, (await _form(request)).get("csrf"))
        action = await to_thread.run_sync(pages.replay, runtime, event_id, user, uuid.uuid4().hex)
        return RedirectResponse(f"/ui/events/{event_id}?replayed={action}", status_code=303)

    @app.get("/ui/static/{path:path}")
    async def static(path: str) -> Any:
        """The charts' scripts (ours and the vendored Vega-Lite), and nothing else."""
        from fastapi.responses import Response

        if path not in STATIC:
            raise Rejected(404, f"no static file {path}")
        body = await to_thread.run_sync((STATIC_DIR / path).read_bytes)
        headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return Response(body, media_type="text/javascript", headers=headers)

    @app.get("/ui/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html")

    @app.post("/ui/login")
    async def login(request: Request) -> Any:
        form = await _form(request)
        cookie = auth.session_cookie(form.get("token", ""), form.get("name", ""))
        answer = RedirectResponse("/ui", status_code=303)
        answer.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/ui",
        )
        return answer


def _one_of(choices: Any) -> dict[str, Any]:
    """A query parameter's documented values: an enum's, or "" for any (a form's default)."""
    return {"enum": ["", *(choice.value for choice in choices)]}


def security_headers(settings: Any) -> dict[str, str]:
    """No framing, no sniffing, no referrer leaking a page's query to a link's site; scripts
    from here only; images from here and the registries (a report's ROC plot is an MLflow
    artifact URL)."""
    from urllib.parse import urlsplit

    origins = []
    for uri in (settings.mlflow_tracking_uri, settings.databricks_host):
        parts = urlsplit(str(uri or ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    images = " ".join(["'self'", "data:", *origins])
    return {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": f"default-src 'self'; img-src {images}; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    }


async def _form(request: Any) -> dict[str, str]:
    """An urlencoded form's fields (the first of each). Parsed here: Starlette's form parser
    needs python-multipart, a dependency for two small forms."""
    from urllib.parse import parse_qs

    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise Rejected(415, f"send the form as {FORM_TYPE}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Rejected(413, f"the form is larger than {MAX_FORM_BYTES // 1024} KiB")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 8192
