"""The two ASGI apps bench/ingress.py compares, built by uvicorn --factory."""

from __future__ import annotations

import os

from mlops_hooks.functions.runtime import settle_heap


def bare_app():
    """The baseline: a FastAPI endpoint that returns {}."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/webhooks/mlflow")
    async def bare() -> dict:
        return {}

    settle_heap()  # the same process setting as the edge: a fair baseline
    return app


def edge_app():
    """Our edge as deployed: verify signature, parse, record durably in SQLite, 202."""
    from mlops_hooks.functions.app import create_app
    from mlops_hooks.functions.runtime import Runtime
    from mlops_hooks.functions.wiring import load_settings
    from mlops_hooks.shared.bootstrap import bootstrap
    from mlops_hooks.shared.ports.runtime import NoQueue

    settings = load_settings(state_dir=os.environ["BENCH_STATE_DIR"])
    app = create_app(Runtime(settings, bootstrap(settings, queue=NoQueue(), handlers={})))
    settle_heap()
    return app
