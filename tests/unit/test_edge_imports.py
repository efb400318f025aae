"""The edge stays light: recording an event never imports mlflow, pandas or the SDKs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
import mlops_hooks.functions.lambda_http
# the cold start builds no route a webhook does not need (FastAPI's analysis of the read API's
# routes imports pydantic.v1, ~40 ms)
assert "pydantic.v1" not in sys.modules, "the cold start imported pydantic.v1"
from mlops_hooks.shared.domain import events
from mlops_hooks.functions.wiring import build_dispatcher
from mlops_hooks.shared.domain.events import Source
from mlops_hooks.shared.settings import Settings

dispatcher = build_dispatcher(Settings(state_dir=sys.argv[1]))
dispatcher.submit(events.model_registered(Source.MLFLOW, "churn", "1"))
assert set(dispatcher.deps.registries) == {"mlflow", "databricks"}
heavy = ("mlflow", "pandas", "numpy", "sklearn", "pyspark", "databricks.sdk", "slack_sdk", "boto3")
print(",".join(m for m in heavy if m in sys.modules))
"""


def test_bootstrap_and_recording_import_no_heavy_library(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "DATABRICKS_HOST": "http://127.0.0.1:9",
        },
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""  # none of them


def test_the_read_api_and_ui_routes_are_added_on_the_first_request_that_may_need_them(
    tmp_path: Path,
) -> None:
    """Building the app (a Lambda's cold start) leaves FastAPI's analysis of the read API's and
    the /ui pages' routes for later: a signed webhook never needs them; the first other request
    adds the read API, the first /ui request (or the OpenAPI document) the pages."""
    from fastapi.testclient import TestClient

    from mlops_hooks.functions.app import create_app
    from mlops_hooks.functions.runtime import Runtime
    from mlops_hooks.shared.settings import Settings

    def paths(app, prefix: str) -> list[str]:
        return [r.path for r in app.router.routes if getattr(r, "path", "").startswith(prefix)]

    app = create_app(Runtime(Settings(state_dir=tmp_path)))
    client = TestClient(app)
    assert paths(app, "/events") == [] and paths(app, "/healthz") == []
    refused = client.post("/webhooks/mlflow", content=b"{}")  # the fast path: no secret set
    assert refused.status_code in (401, 503) and paths(app, "/healthz") == []
    assert client.get("/healthz").status_code == 200
    assert paths(app, "/events") == ["/events", "/events/{event_id}"]
    assert paths(app, "/ui") == []
    assert client.get("/ui/login").status_code == 200  # the first /ui request finds its route
    assert "/ui/events/{event_id}" in paths(app, "/ui")

    other = create_app(Runtime(Settings(state_dir=tmp_path)))
    documented = TestClient(other).get("/openapi.json").json()["paths"]
    assert {"/ui/events", "/events", "/healthz", "/webhooks/mlflow"} <= set(documented)
    assert TestClient(other).get("/events/nope").status_code == 404  # found, then not there
