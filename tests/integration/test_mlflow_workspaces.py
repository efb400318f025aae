"""Two teams on one MLflow 3 server with workspaces: the same model name, judged apart.

A real server started with MLFLOW_ENABLE_WORKSPACES; each team registers the webhook in its
own workspace and registers `shared_model` v1. Each version gets its own event and its verdict,
report and links in its own workspace (the registry port's calls run in the event's workspace).

MLflow 3.17 caches the webhooks of an event type for MLFLOW_WEBHOOK_CACHE_TTL seconds without
the workspace in the key: a second workspace's version created within that time is delivered to
the first workspace's webhooks, naming the first workspace (the first workspace's key again, so
nothing new). The second test races two workspaces into that window on purpose: the registry
sweep over the workspaces finds the version no webhook announced.
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
from tests.support.cli_here import cli_here
from tests.support.mlflow_models import log_and_register, log_churn_model
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


def serve_with_webhooks(
    server: Proc, start_serve, holdout_csv: Path, folder: Path, teams: tuple[str, ...], **extra
) -> dict[str, str]:
    """A `serve` judging `shared_model` by POLICY, with a webhook to it in each team's
    workspace (a webhook belongs to its workspace); the environment its CLI calls take."""
    policy = folder / "mlops.yml"
    policy.write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
    state = folder / "state"
    env = webhook_env(
        server, state, MLOPS_HOOKS_POLICY=str(policy), MLOPS_HOOKS_WARM_UP="true", **extra
    )
    serve = start_serve(state_dir=state, **env)
    for team in teams:
        done = cli_here(  # on the way to what the test is about: in-process, the same code
            "webhooks", "register", "--url", f"{serve.url}/webhooks/mlflow",
            env={**env, "MLFLOW_WORKSPACE": team}, cwd=folder,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        swept = team in extra.get("MLOPS_HOOKS_SWEEP_WORKSPACES", "").split(",")
        # a workspace the sweep does not cover is pointed at the README's advice
        assert ("to MLOPS_HOOKS_SWEEP_WORKSPACES" in done.stderr) is not swept, done.stderr
    webhook_cache_expired()
    return env


def verdict(client: MlflowClient, team: str) -> str | None:
    with WorkspaceContext(team):
        return client.get_model_version("shared_model", "1").tags.get("mlops.validation")


def registered_events(env: dict[str, str], folder: Path) -> dict[str, dict]:
    listed = cli("events", "list", "--json", env=env, cwd=folder)
    assert listed.returncode == 0, listed.stderr
    return {e["key"]: e for e in json.loads(listed.stdout) if e["kind"] == "model_registered"}


def test_two_workspaces_register_the_same_model_and_each_is_judged_in_its_own(
    workspace_server: Proc, start_serve, churn, tmp_path: Path
) -> None:
    train, holdout_csv, model = churn
    env = serve_with_webhooks(workspace_server, start_serve, holdout_csv, tmp_path, TEAMS)
    client = MlflowClient(tracking_uri=workspace_server.url)

    for team in TEAMS:
        with WorkspaceContext(team):
            assert log_and_register(workspace_server.url, "shared_model", model, train) == "1"
        webhook_cache_expired()  # else MLflow sends team-b's event to team-a's webhook: above

    for team in TEAMS:
        assert wait_for(lambda t=team: verdict(client, t), 60, f"{team}'s verdict") == "passed"

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

    keys = set(registered_events(env, tmp_path))
    assert keys == {f"model_registered:mlflow@{team}:shared_model:1" for team in TEAMS}


def test_a_version_mlflow_announces_under_another_workspace_is_found_by_the_sweep(
    workspace_server: Proc, start_serve, churn, tmp_path: Path
) -> None:
    import mlflow

    train, holdout_csv, model = churn
    teams = ("race-a", "race-b")  # workspaces of their own: this serve sweeps all they hold
    for team in teams:
        mlflow.create_workspace(team)
    env = serve_with_webhooks(
        workspace_server, start_serve, holdout_csv, tmp_path, teams,
        MLOPS_HOOKS_SWEEP_SECONDS="1", MLOPS_HOOKS_SWEEP_WORKSPACES=",".join(teams),
    )  # fmt: skip
    client = MlflowClient(tracking_uri=workspace_server.url)
    logged = {}
    for team in teams:
        with WorkspaceContext(team):
            logged[team] = log_churn_model(workspace_server.url, "shared_model", model, train)
            client.create_registered_model("shared_model")
    # back to back, one call each: race-b's version well inside race-a's cached webhook list
    for team in teams:
        with WorkspaceContext(team):
            info = logged[team]
            created = client.create_model_version(
                "shared_model", info.model_uri, info.run_id, model_id=info.model_id
            )
            assert str(created.version) == "1"

    for team in teams:
        assert wait_for(lambda t=team: verdict(client, t), 60, f"{team}'s verdict") == "passed"
    events = registered_events(env, tmp_path)
    assert set(events) == {f"model_registered:mlflow@{team}:shared_model:1" for team in teams}
    # no webhook named race-b: its delivery said race-a, and the sweep found race-b's version
    assert events["model_registered:mlflow@race-b:shared_model:1"]["source"] == "sweep"
