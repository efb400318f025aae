"""A real MLflow 3 server sends real signed webhooks to a real `mlops-hooks serve`."""

from __future__ import annotations

import time
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import WEBHOOK_SECRET
from tests.support.http import HTTP
from tests.support.processes import Proc, cli, wait_for, webhook_cache_expired


def events_of(serve: Proc, kind: str) -> list[dict]:
    return HTTP.get(f"{serve.url}/events", params={"kind": kind}).json()


def test_registering_a_version_and_setting_challenger_raise_one_event_each(
    mlflow_server: Proc, start_serve, tmp_path: Path
) -> None:
    serve = start_serve()
    env = {
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MLOPS_HOOKS_STATE_DIR": str(tmp_path / "state"),
    }
    url = f"{serve.url}/webhooks/mlflow"
    registered = cli("webhooks", "register", "--url", url, env=env, cwd=tmp_path)
    assert registered.returncode == 0, registered.stderr
    assert "created webhook" in registered.stdout
    assert WEBHOOK_SECRET not in registered.stdout + registered.stderr
    again = cli("webhooks", "register", "--url", url, env=env, cwd=tmp_path)
    assert again.returncode == 0 and "updated webhook" in again.stdout

    client = MlflowClient(tracking_uri=mlflow_server.url)
    hooks = [h for h in client.list_webhooks() if h.url == url]
    assert len(hooks) == 1  # registering twice did not duplicate it
    try:
        webhook_cache_expired()
        name = f"churn-{tmp_path.name}"
        client.create_registered_model(name)
        run = client.create_run(client.create_experiment(name))
        started = time.monotonic()
        version = client.create_model_version(
            name, f"runs:/{run.info.run_id}/model", run.info.run_id
        )
        got = wait_for(lambda: events_of(serve, "model_registered"), 30, "model_registered")
        elapsed = time.monotonic() - started
        assert elapsed < 5
        [event] = got  # type: ignore[misc]
        assert (event["model"], event["version"]) == (name, version.version)

        client.set_registered_model_alias(name, "challenger", version.version)
        promo = wait_for(lambda: events_of(serve, "promotion_requested"), 30, "promotion_requested")
        assert len(promo) == 1 and promo[0]["version"] == version.version  # type: ignore[arg-type]
        detail = HTTP.get(f"{serve.url}/events/{promo[0]['id']}").json()  # type: ignore[index]
        assert detail["event"]["target"] == "champion"

        time.sleep(1.0)  # nothing else trickles in (no duplicates from retries)
        assert len(events_of(serve, "model_registered")) == 1
        assert len(events_of(serve, "promotion_requested")) == 1
    finally:
        for hook in hooks:
            client.delete_webhook(hook.webhook_id)


def test_register_without_secret_or_tracking_uri_fails_in_one_line(tmp_path: Path) -> None:
    no_secret = cli(
        "webhooks",
        "register",
        "--url",
        "http://x/webhooks/mlflow",
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
        cwd=tmp_path,
    )
    assert no_secret.returncode != 0
    assert "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET" in no_secret.stderr
    assert len(no_secret.stderr.strip().splitlines()) == 1
    bad_url = cli(
        "webhooks",
        "register",
        "--url",
        "ftp://x",
        cwd=tmp_path,
        env={"MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "s"},
    )
    assert bad_url.returncode != 0 and "http(s) URL" in bad_url.stderr


def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = cli("serve", env={}, cwd=tmp_path)
    assert result.returncode != 0
    assert "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET is not set" in result.stderr
    assert "--poll-only" in result.stderr  # the way to run without webhooks


def test_poll_only_needs_the_sweep(tmp_path: Path) -> None:
    result = cli("serve", "--poll-only", env={"MLOPS_HOOKS_SWEEP_SECONDS": "0"}, cwd=tmp_path)
    assert result.returncode != 0
    [line] = [x for x in result.stderr.splitlines() if "MLOPS_HOOKS_SWEEP_SECONDS" in x]
    assert "--poll-only" in line and "is 0 (off)" in line
