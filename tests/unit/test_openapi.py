"""The OpenAPI document's request schemas say what the parsers accept (bench/fuzz.py fuzzes
the two against each other; here, the payloads other projects wrote, and the refusals)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlops_hooks.functions.databricks_webhook import event_from_databricks
from mlops_hooks.functions.errors import Rejected
from mlops_hooks.functions.mlflow_webhook import event_from_mlflow
from mlops_hooks.functions.openapi import databricks_body, mlflow_body
from mlops_hooks.shared.settings import Settings

FIXTURES = Path(__file__).parents[1] / "fixtures"
SETTINGS = Settings()


def valid(schema: dict, doc: dict) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(doc)


def mlflow_accepts(doc: dict) -> bool:
    try:
        event_from_mlflow(json.dumps(doc).encode(), "d", SETTINGS)
    except Rejected:
        return False
    return True


def databricks_accepts(doc: dict) -> bool:
    try:
        event_from_databricks(json.dumps(doc).encode())
    except Rejected:
        return False
    return True


def mlflow_examples() -> list[dict]:
    examples = json.loads((FIXTURES / "mlflow" / "test_webhook_examples.json").read_text())
    docs = []
    for kind, data in examples.items():
        entity, action = kind.split(".")
        docs.append({"entity": entity, "action": action, "timestamp": "2026-12-02", "data": data})
    return docs


CREATED = {"entity": "model_version", "action": "created"}
MLFLOW_CASES = [
    *mlflow_examples(),
    {**CREATED, "data": {"name": "churn", "version": "3"}},
    {**CREATED, "data": {"name": "churn", "version": 3}, "workspace": "team-a"},
    {**CREATED, "data": {"name": "churn"}},  # no version
    {**CREATED, "data": {"name": "churn", "version": "07"}},
    {**CREATED, "data": {"name": "", "version": "1"}},
    {**CREATED, "data": {"name": 42, "version": "1"}},
    {**CREATED, "data": {"name": "churn", "version": "1"}, "workspace": ""},
    {"entity": "model_version_alias", "action": "created", "data": {"alias": "challenger"}},
    {"entity": "model_version_alias", "action": "created", "data": {"alias": "shadow"}},
    {"entity": "model_version_tag", "action": "set", "data": {"key": "mlops.promote"}},
    {"entity": "registered_model", "action": "created", "data": {}},
    {"entity": "model_version", "action": "created"},  # no data
]


@pytest.mark.parametrize("doc", MLFLOW_CASES, ids=lambda d: json.dumps(d)[:60])
def test_the_mlflow_schema_and_parser_agree(doc: dict) -> None:
    assert valid(mlflow_body(SETTINGS), doc) == mlflow_accepts(doc)


DATABRICKS_CASES = [
    *json.loads((FIXTURES / "databricks" / "registry_webhook_examples.json").read_text()).values(),
    {"event": "MODEL_VERSION_CREATED", "model_name": "churn", "version": "8"},
    {"event": "MODEL_VERSION_CREATED"},  # the test ping
    {"event": "MODEL_VERSION_CREATED", "model_name": "churn", "version": "zero"},
    {"event": "TRANSITION_REQUEST_CREATED", "model_name": "churn", "version": "8"},  # no stage
    {"event": "TRANSITION_REQUEST_CREATED", "model_name": "c", "version": 8, "to_stage": "Staging"},
    {"event": "TRANSITION_REQUEST_TO_PRODUCTION_CREATED", "model_name": "c", "version": "1"},
    {"model_name": "churn"},  # no event
]


@pytest.mark.parametrize("doc", DATABRICKS_CASES, ids=lambda d: json.dumps(d)[:60])
def test_the_databricks_schema_and_parser_agree(doc: dict) -> None:
    assert valid(databricks_body(), doc) == databricks_accepts(doc)


def test_the_ui_routes_are_documented_as_they_answer(tmp_path: Path) -> None:
    """What bench/fuzz.py found once the /ui pages came: every answer of theirs documented, a
    query value the page refuses outside its documented values, and a 405 naming every method
    of its path (Starlette's named the first route's only)."""
    from fastapi.testclient import TestClient

    from mlops_hooks.functions.app import create_app
    from mlops_hooks.functions.runtime import Runtime
    from mlops_hooks.shared.domain.events import EventKind

    client = TestClient(create_app(Runtime(Settings(state_dir=tmp_path))))
    paths = client.get("/openapi.json").json()["paths"]
    [kind] = [p for p in paths["/ui/events"]["get"]["parameters"] if p["name"] == "kind"]
    assert kind["schema"]["enum"] == ["", *(k.value for k in EventKind)]
    assert client.get("/ui/events", params={"kind": "nope"}).status_code == 400
    assert client.get("/ui/events", params={"kind": ""}).status_code == 200
    for path in ("/ui/models/{model}", "/ui/static/{path}", "/ui/events/{event_id}"):
        assert "404" in paths[path]["get"]["responses"], path
    assert client.get("/ui/models/nobody").status_code == 404
    for path in ("/ui/login", "/ui/events/{event_id}/replay"):
        post = paths[path]["post"]
        assert post["requestBody"]["required"] is True
        assert list(post["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
        assert {"303", "401", "403", "413", "415"} <= set(post["responses"]) and "200" not in post[
            "responses"
        ]
    unformed = client.post("/ui/login", content=b"{}", headers={"content-type": "text/plain"})
    assert unformed.status_code == 415 and "x-www-form-urlencoded" in unformed.json()["error"]
    refused = client.options("/ui/login")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, POST"
