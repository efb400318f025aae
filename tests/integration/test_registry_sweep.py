"""The registry sweep against a real MLflow 3 server: what it finds, what it costs, and that a
version found by the sweep and announced by a webhook is one event."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from mlops_hooks.functions.mlflow_webhook import event_from_mlflow
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import FixedClock, dispatcher_over

SETTINGS = Settings()


def test_changes_since_finds_new_versions_tags_and_aliases_in_three_calls(mlflow_server) -> None:
    from mlflow import MlflowClient

    from mlops_hooks.shared.adapters.mlflow_registry import MlflowRegistry

    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    name = f"sweep-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    since = int(time.time() * 1000) - 1
    for _ in range(3):
        client.create_model_version(name, source="s3://bucket/model")
    client.set_registered_model_alias(name, "challenger", "2")
    client.set_registered_model_alias(name, "champion", "1")  # not a request
    client.set_model_version_tag(name, "3", "mlops.promote", "champion")
    registry = MlflowRegistry(mlflow_server.url)
    scan = registry.changes_since(
        since, aliases=frozenset({"challenger"}), promote_tag="mlops.promote"
    )
    mine = {(c.kind, c.version, c.value) for c in scan.changes if c.model == name}
    assert mine == {
        ("version_created", "1", None),
        ("version_created", "2", None),
        ("version_created", "3", None),
        ("alias", "2", "challenger"),
        ("tag", "3", "champion"),
    }
    assert scan.calls == 3
    later = registry.changes_since(
        int(time.time() * 1000) + 60_000, aliases=frozenset({"challenger"}), promote_tag="x"
    )
    assert not [c for c in later.changes if c.kind == "version_created"] and later.calls == 3


def test_a_swept_version_and_its_webhook_are_one_event(mlflow_server, tmp_path: Path) -> None:
    import json

    from mlflow import MlflowClient

    from mlops_hooks.shared.adapters.mlflow_registry import MlflowRegistry

    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    name = f"sweep-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    versions = [client.create_model_version(name, source="s3://bucket/m") for _ in range(3)]
    clock = FixedClock(time.time())
    dispatcher, ledger = dispatcher_over(
        tmp_path, registries={"mlflow": MlflowRegistry(mlflow_server.url)}, clock=clock
    )
    try:
        # the webhook of v1 arrived (the MLflow payload shape); v2 and v3 were lost
        body = {
            "entity": "model_version",
            "action": "created",
            "data": {"name": name, "version": "1"},
        }
        dispatcher.submit(event_from_mlflow(json.dumps(body).encode(), "d1", SETTINGS))
        tick = events.action("sweep", {"since": None}, "r1", user="test")
        done = dispatcher.process(dispatcher.submit(tick).record.id)
        assert done.outcome["result"] == "done", done.outcome
        mine = [
            r
            for r in ledger.list(kind=EventKind.MODEL_REGISTERED, limit=500)
            if r.event.model == name
        ]
        assert sorted(r.event.version for r in mine) == [v.version for v in versions]
        assert next(r for r in mine if r.event.version == "1").deliveries == 2
    finally:
        ledger.close()
