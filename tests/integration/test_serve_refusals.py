"""`serve` says what it refuses: a busy port before anything starts, and every refused
delivery in its log (one line, rate-limited, no secret) and in /healthz."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mlops_hooks.shared.domain.signatures import sign_mlflow
from tests.conftest import WEBHOOK_SECRET
from tests.support.http import HTTP
from tests.support.processes import Proc, cli, wait_for


def test_a_second_serve_on_a_busy_port_says_so_in_one_line_and_never_listens(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(
            "serve",
            "--port",
            str(port),
            env={"MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "s"},
            cwd=tmp_path,
        )
    assert done.returncode != 0
    said = done.stdout + done.stderr
    [line] = [x for x in said.splitlines() if f"127.0.0.1:{port}" in x]
    assert "cannot listen on" in line and "another --port" in line
    assert "listening" not in said and "Traceback" not in said


def test_a_wrong_secret_is_logged_and_counted(start_serve: Callable[..., Proc]) -> None:
    serve = start_serve()
    health = HTTP.get(f"{serve.url}/healthz").json()
    assert health == {"status": "ok", "policy": health["policy"], "rejected": {}}
    body = json.dumps({"entity": "model_version", "action": "created", "data": {}}).encode()
    for _ in range(3):  # a sender retrying with the wrong secret
        delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
        refused = HTTP.post(
            f"{serve.url}/webhooks/mlflow",
            content=body,
            headers={
                "X-MLflow-Signature": sign_mlflow("not-the-secret", delivery, stamp, body),
                "X-MLflow-Delivery-Id": delivery,
                "X-MLflow-Timestamp": stamp,
            },
        )
        assert refused.status_code == 401
    assert HTTP.get(f"{serve.url}/healthz").json()["rejected"] == {"401": 3}
    logged = wait_for(
        lambda: [x for x in serve.output().splitlines() if "refused /webhooks/mlflow: 401" in x],
        10,
        "the refusal in serve's log",
    )
    assert len(logged) == 1  # the next two within the rate limit: counted, not logged
    assert WEBHOOK_SECRET not in serve.output() and "not-the-secret" not in serve.output()


def test_serve_says_at_start_what_it_reaches_and_what_is_missing(
    start_serve: Callable[..., Proc], mlflow_server: Proc
) -> None:
    # no registry (whatever the suite's environment holds): said now, not when a version dies
    alone = start_serve(MLFLOW_TRACKING_URI="", DATABRICKS_HOST="")
    said = alone.output()
    assert "no registry is configured (MLFLOW_TRACKING_URI, DATABRICKS_HOST)" in said
    assert (
        "routes: /webhooks/mlflow takes signed deliveries; /webhooks/databricks answers 503" in said
    )
    assert "registry sweep off" in said and "policy: built-in default" in said
    alone.stop()
    reaching = start_serve(MLFLOW_TRACKING_URI=mlflow_server.url, MLOPS_HOOKS_SWEEP_SECONDS="10")
    said = reaching.output()
    assert f"registries: mlflow ({mlflow_server.url}: answers)" in said
    assert "registry sweep every 10s" in said
    assert WEBHOOK_SECRET not in said
