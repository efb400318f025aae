"""Fake of the Databricks REST endpoints mlops-hooks uses, for the real databricks-sdk."""

from __future__ import annotations

import itertools
from typing import Any

from tests.support.fake_http import FakeHTTP, Request

WEBHOOKS = "/api/2.0/mlflow/registry-webhooks"


def fake_databricks() -> FakeHTTP:
    fake = FakeHTTP()
    hooks: dict[str, dict[str, Any]] = {}
    ids = itertools.count(1)

    @fake.route("POST", f"{WEBHOOKS}/create")
    def create(req: Request) -> tuple[int, Any]:
        body = req.json()
        hook_id = f"hook-{next(ids)}"
        spec = {k: v for k, v in (body.get("http_url_spec") or {}).items() if k != "secret"}
        hooks[hook_id] = {
            "id": hook_id,
            "events": body["events"],
            "http_url_spec": spec,
            "model_name": body.get("model_name"),
            "status": "ACTIVE",
        }
        return 200, {"webhook": hooks[hook_id]}

    @fake.route("GET", f"{WEBHOOKS}/list")
    def list_(req: Request) -> tuple[int, Any]:
        model = (req.query.get("model_name") or [None])[0]
        found = [h for h in hooks.values() if model is None or h["model_name"] == model]
        return 200, {"webhooks": found}

    @fake.route("PATCH", f"{WEBHOOKS}/update")
    def update(req: Request) -> tuple[int, Any]:
        body = req.json()
        hook = hooks[body["id"]]
        hook["events"] = body.get("events", hook["events"])
        return 200, {"webhook": hook}

    return fake
