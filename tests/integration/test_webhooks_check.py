"""`mlops-hooks webhooks check` end to end: a real MLflow 3 server sends its test delivery to a
running `serve`, and the command says whether it arrived, was verified and recorded, or why
not; commands against a server that is down or broken fail within 15 s in one line.
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.fernet import Fernet
from mlflow import MlflowClient

from tests.conftest import WEBHOOK_SECRET, webhook_env
from tests.support.cli_here import cli_here
from tests.support.http import HTTP
from tests.support.processes import (
    Proc,
    cli,
    free_port,
    start_mlflow_server,
    webhook_cache_expired,
)

BOUND = 15.0  # seconds: the default MLOPS_HOOKS_SERVER_TIMEOUT_SECONDS


def test_a_good_webhook_checks_out_and_a_wrong_secret_is_named(
    mlflow_server: Proc, start_serve, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server.url)
    state = tmp_path / "state"
    env = webhook_env(mlflow_server, state)
    serve = start_serve(state_dir=state, **env)
    url = f"{serve.url}/webhooks/mlflow"
    try:
        # registering is set-up here (in-process); the checks run the installed command
        assert cli_here("webhooks", "register", "--url", url, env=env, cwd=tmp_path).returncode == 0
        good = cli("webhooks", "check", "--url", url, env=env, cwd=tmp_path)
        assert good.returncode == 0, good.stderr
        assert "arrived, verified and recorded as ev_" in good.stdout
        assert "(test delivery)" in good.stdout
        recorded = good.stdout.split("recorded as ")[1].split()[0]
        assert HTTP.get(f"{serve.url}/events/{recorded}").json()["kind"] == "ignored"

        # the webhook registered again with another secret than serve's, from another machine
        # (its own state dir): a command recorded in serve's ledger could be claimed and
        # carried out by serve itself, with serve's own (right) secret
        wrong = {
            **env,
            "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "not-" + WEBHOOK_SECRET,
            "MLOPS_HOOKS_STATE_DIR": str(tmp_path / "elsewhere"),
        }
        registered = cli_here("webhooks", "register", "--url", url, env=wrong, cwd=tmp_path)
        assert registered.returncode == 0
        # the server keeps the old secret for its webhook cache's TTL (1 s here); on a loaded
        # machine that can outlast one wait, so ask again (at most 10 s) until the new one is used
        deadline = time.monotonic() + 10
        while True:
            webhook_cache_expired()
            bad = cli("webhooks", "check", "--url", url, env=env, cwd=tmp_path)
            if bad.returncode != 0 or time.monotonic() > deadline:
                break
        assert bad.returncode == 1, bad.stdout
        assert "delivered but refused (401" in bad.stdout
        assert "not the MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET serve verifies with" in bad.stdout
        assert "refused /webhooks/mlflow: 401" in serve.output()
        assert WEBHOOK_SECRET not in serve.output()
        assert HTTP.get(f"{serve.url}/healthz").json()["rejected"] == {"401": 1}
    finally:
        for hook in client.list_webhooks():
            if hook.url == url:
                client.delete_webhook(hook.webhook_id)


def test_an_unreachable_url_is_named(mlflow_server: Proc, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=mlflow_server.url)
    url = f"http://127.0.0.1:{free_port()}/webhooks/mlflow"  # nothing listens there
    env = webhook_env(mlflow_server, tmp_path / "state")
    try:
        assert cli_here("webhooks", "register", "--url", url, env=env, cwd=tmp_path).returncode == 0
        checked = cli("webhooks", "check", "--url", url, env=env, cwd=tmp_path)
        assert checked.returncode == 1
        assert "not delivered: the MLflow server cannot reach the URL: connection refused" in (
            checked.stdout
        )
        missing = cli_here("webhooks", "check", "--url", url + "/other", env=env, cwd=tmp_path)
        assert missing.returncode == 1 and "has no webhook for" in missing.stderr
    finally:
        for hook in client.list_webhooks():
            if hook.url == url:
                client.delete_webhook(hook.webhook_id)


def test_a_changed_encryption_key_and_a_stopped_server_fail_fast(tmp_path: Path) -> None:
    """MLflow's own server, restarted on its store with another Fernet key: every webhooks
    API call answers 500 (InvalidToken only in its log). Then stopped."""
    folder = tmp_path / "mlflow-own"
    key = Fernet.generate_key().decode()
    server = start_mlflow_server(folder, key=key)
    port = int(server.url.rsplit(":", 1)[1])
    env = webhook_env(server, tmp_path / "state")
    url = "http://127.0.0.1:9/webhooks/mlflow"
    try:
        assert cli_here("webhooks", "register", "--url", url, env=env, cwd=tmp_path).returncode == 0
    finally:
        server.stop()
    server = start_mlflow_server(folder, key=Fernet.generate_key().decode(), port=port)
    try:
        started = time.monotonic()
        checked = cli("webhooks", "check", "--url", url, env=env, cwd=tmp_path)
        took = time.monotonic() - started
        assert checked.returncode == 1 and took < BOUND, (took, checked.stderr)
        [line] = checked.stderr.strip().splitlines()
        assert f"the MLflow server at {server.url}" in line
        assert "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY" in line
    finally:
        server.stop()

    started = time.monotonic()
    stopped = cli("webhooks", "register", "--url", url, env=env, cwd=tmp_path)
    took = time.monotonic() - started
    assert stopped.returncode == 1 and took < BOUND, (took, stopped.stderr)
    [line] = stopped.stderr.strip().splitlines()
    assert line.startswith("error: could not register the webhook: the MLflow server at ")
    assert "connection refused" in line
