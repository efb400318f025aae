"""Two teams on one MLflow 3 server with workspaces: the same model name, judged apart.

A real server started with MLFLOW_ENABLE_WORKSPACES; each team registers the webhook in its
own workspace and registers `shared_model` v1. Each version gets its own event and its verdict,
report and links in its own workspace (the registry port's calls run in the event's workspace).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.utils.workspace_context import WorkspaceContext

from mlops_hooks.shared.adapters.markdown import read_section
from tests.conftest import webhook_env
from tests.support.mlflow_models import log_and_register
from tests.support.processes import (
    Proc,
    cli,
    start_mlflow_server,
    wait_for,
    webhook_cache_expired,
)

TEAMS = ("team-a", "team-b")
POLICY = """
version: 1
models:
  - name: shared_model
    checks:
      loads: {}
      signature: {}
      metrics: {thresholds: {roc_auc: {min: 0.7}}}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    promotion: {after_validation: none}
"""


@pytest.fixture(scope="module")
def workspace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    import mlflow

    proc = start_mlflow_server(tmp_path_factory.mktemp("mlflow-workspaces"), workspaces=True)
    try:
        mlflow.set_tracking_uri(proc.url)
        for team in TEAMS:
            mlflow.create_workspace(team)
        yield proc
    finally:
        proc.stop()


def test_two_workspaces_register_the_same_model_and_each_is_judged_in_its_own(
    workspace_server: Proc, start_serve, churn, tmp_path: Path
) -> None:
    train, holdout_csv, model = churn
    policy = tmp_path / "mlops.yml"
    policy.write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
    state = tmp_path / "state"
    env = webhook_env(workspace_server, state, MLOPS_HOOKS_POLICY=str(policy))
    serve = start_serve(state_dir=state, **env)
    client = MlflowClient(tracking_uri=workspace_server.url)
    for team in TEAMS:  # a webhook belongs to its workspace: each team registers its own
        done = cli(
            "webhooks", "register", "--url", f"{serve.url}/webhooks/mlflow",
            env={**env, "MLFLOW_WORKSPACE": team}, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    webhook_cache_expired()

    for team in TEAMS:
        with WorkspaceContext(team):
            assert log_and_register(workspace_server.url, "shared_model", model, train) == "1"

    def verdict(team: str) -> str | None:
        with WorkspaceContext(team):
            return client.get_model_version("shared_model", "1").tags.get("mlops.validation")

    for team in TEAMS:
        assert wait_for(lambda team=team: verdict(team), 60, f"{team}'s verdict") == "passed"

        def linked(team: str = team) -> str | None:  # the evaluation run comes after the verdict
            with WorkspaceContext(team):
                mv = client.get_model_version("shared_model", "1")
            report = read_section(mv.description, "validation")
            return report if "[evaluation run](" in report else None

        report = wait_for(linked, 60, f"{team}'s evaluation run")
        assert f"/#/models/shared_model/versions/1?workspace={team}" in report
        assert f"?workspace={team})" in report.split("[evaluation run](", 1)[1]
    with WorkspaceContext("default"):  # nothing leaked into the server's default workspace
        assert client.search_registered_models(filter_string="name = 'shared_model'") == []

    listed = cli("events", "list", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    keys = {e["key"] for e in json.loads(listed.stdout) if e["kind"] == "model_registered"}
    assert keys == {f"model_registered:mlflow@{team}:shared_model:1" for team in TEAMS}
