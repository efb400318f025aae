"""MlflowRegistry against the session's real MLflow 3 server."""

from __future__ import annotations

import gc
import uuid
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient

from mlops_hooks.jobs.train import model_requirements
from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.adapters.mlflow_registry import MlflowRegistry
from tests.support.processes import Proc


@pytest.fixture
def model_name() -> str:
    return f"reg-{uuid.uuid4().hex[:8]}"


def registered(url: str, name: str, *descriptions: str | None) -> str:
    """``name`` registered with a version per description, all from one new run; its id."""
    client = MlflowClient(tracking_uri=url)
    client.create_registered_model(name)
    run_id = client.create_run(client.create_experiment(name)).info.run_id
    for description in descriptions:
        client.create_model_version(name, f"runs:/{run_id}/model", run_id, description=description)
    return run_id


def test_reports_tags_and_aliases_on_a_real_server(mlflow_server: Proc, model_name: str) -> None:
    run_id = registered(mlflow_server.url, model_name, "Trained by Ada on the Q3 extract.", None)
    registry = MlflowRegistry(mlflow_server.url)

    ready = registry.wait_ready(model_name, "1", timeout=30)
    assert ready.status == "READY" and ready.run_id == run_id

    registry.write_report(model_name, "1", "validation", "## Validation: failed")
    registry.write_report(model_name, "1", "validation", "## Validation: passed")
    description = registry.get_version(model_name, "1").description
    assert description.startswith("Trained by Ada on the Q3 extract.")
    assert description.count("mlops-hooks:validation:begin") == 1
    assert read_section(description, "validation") == "## Validation: passed"

    registry.set_tags(model_name, "1", {"mlops.validation": "passed", "mlops.validated_at": "t"})
    assert registry.get_version(model_name, "1").tags["mlops.validation"] == "passed"

    assert registry.get_alias(model_name, "champion") is None
    registry.set_alias(model_name, "champion", "1")
    registry.set_alias(model_name, "champion", "2")
    assert registry.get_alias(model_name, "champion") == "2"
    assert registry.version_url(model_name, "2").endswith(f"/#/models/{model_name}/versions/2")


def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(method, REST path after /mlflow/) of every HTTP request sent from now until
    ``monkeypatch.undo()``."""
    import requests

    sent: list[tuple[str, str]] = []
    send = requests.Session.send

    def counted(session: requests.Session, request: requests.PreparedRequest, **kwargs):
        sent.append((str(request.method), urlparse(request.url).path.split("/mlflow/")[-1]))
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counted)
    return sent


def test_a_verdicts_writes_are_one_round_trip_each(
    mlflow_server: Proc, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MlflowClient asks for the registered model (is it a prompt?) before each write to a
    version; the adapter, which has read the version already, does not."""
    registered(mlflow_server.url, model_name, None)
    registry = MlflowRegistry(mlflow_server.url)
    registry.wait_ready(model_name, "1", timeout=30)
    sent = requests_sent(monkeypatch)
    registry.set_tags(model_name, "1", {"mlops.validation.failed": "", "mlops.validation": "x"})
    registry.write_report(model_name, "1", "validation", "## Validation: passed")
    monkeypatch.undo()

    assert sent == [
        ("POST", "model-versions/set-tag"),
        ("POST", "model-versions/set-tag"),
        ("GET", "model-versions/get"),
        ("PATCH", "model-versions/update"),
    ]
    version = registry.get_version(model_name, "1")
    assert version.tags["mlops.validation"] == "x"
    assert read_section(version.description, "validation") == "## Validation: passed"


def test_a_logged_model_loads_as_pyfunc(
    mlflow_server: Proc, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)[::-1]})
    y = (x["a"] > 9).astype(int)
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment(model_name)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            LogisticRegression().fit(x, y),
            name="model",
            registered_model_name=model_name,
            input_example=x.head(2),
            pip_requirements=model_requirements(),  # not inferred: ~4 s of CPU in a subprocess
        )
    registry = MlflowRegistry(mlflow_server.url)
    version = registry.wait_ready(model_name, "1", timeout=60)
    sent = requests_sent(monkeypatch)
    loaded = registry.load_model(model_name, "1", known=version)
    monkeypatch.undo()
    folder = loaded.path
    assert folder.exists()
    predictions = loaded.predict(x)
    del loaded  # never closed: its downloaded files still go with it
    gc.collect()
    assert not folder.exists()
    assert list(predictions[:2]) == [0, 0] and list(predictions[-2:]) == [1, 1]
    # the version as read names its run: the load asks for its files, not for the version or
    # the run again (the run's experiment is looked up when an evaluation starts)
    asked = {path for _, path in sent}
    assert "model-versions/get-download-uri" in asked
    assert not asked & {"model-versions/get", "runs/get", "registered-models/get"}, sent


def test_a_name_that_looks_like_a_url_loads_and_links(mlflow_server: Proc, churn) -> None:
    """A model called "a%20b?x=1#frag": a models:/ URI would be parsed as a URL (model "a b",
    a query, a fragment); the version loads by its own location, and links encode the name."""
    from tests.support.mlflow_models import log_and_register

    train, _, model = churn
    name = f"odd%20{uuid.uuid4().hex[:6]}?x=1#frag"
    version = log_and_register(mlflow_server.url, name, model, train)
    registry = MlflowRegistry(mlflow_server.url)
    loaded = registry.load_model(name, version)
    try:
        example = loaded.input_example()
        assert example is not None and len(loaded.predict(example)) == len(example)
    finally:
        loaded.close()
    link = registry.version_url(name, version)
    assert link.endswith(f"/#/models/odd%2520{name[6:12]}%3Fx%3D1%23frag/versions/{version}")
