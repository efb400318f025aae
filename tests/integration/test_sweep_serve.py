"""The registry sweep in `serve`, against a real MLflow 3 server of this module's own (the
session's server is shared, and a sweeping `serve` acts on whatever its look-back finds):

- versions registered while `serve` is down are validated by the first sweep tick after it
  starts, one event each; a version the webhook also announces is still one event;
- poll-only (`serve --poll-only`, no webhook secret, no webhook registered): a version is
  validated and a challenger alias set by hand is a promotion request, each within a tick.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.conftest import WEBHOOK_SECRET
from tests.support.cli_here import cli_here
from tests.support.http import HTTP
from tests.support.mlflow_models import log_and_register, version_with_alias
from tests.support.processes import (
    Proc,
    free_port,
    start_serve_process,
    wait_for,
    webhook_cache_expired,
)

POLICY = """
models:
  - name: "swept-*"
    checks:
      loads: {}
      signature: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.6}}, evaluator: builtin}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    promotion: {mode: auto, after_validation: none}
"""
TICK = "2"  # seconds; the default is 10
WAIT = 120  # a liveness bound for a slow shared machine (speed is bench/sweep.py's business)


@pytest.fixture
def serve_env(own_mlflow: Proc, churn: Any, tmp_path: Path) -> dict[str, str]:
    _, holdout_csv, _ = churn
    policy = tmp_path / "mlops.yml"
    policy.write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
    return {
        "MLFLOW_TRACKING_URI": own_mlflow.url,
        "MLOPS_HOOKS_STATE_DIR": str(tmp_path / "state"),
        "MLOPS_HOOKS_POLICY": str(policy),
        "MLOPS_HOOKS_POLL_SECONDS": "0.2",
        "MLOPS_HOOKS_SWEEP_SECONDS": TICK,
    }


def verdict(client: MlflowClient, name: str, version: str) -> str | None:
    return client.get_model_version(name, version).tags.get("mlops.validation")


def events_of(serve: Proc, name: str, kind: str) -> list[dict[str, Any]]:
    found = HTTP.get(f"{serve.url}/events", params={"kind": kind, "limit": 1000}).json()
    return [e for e in found if e["model"] == name]


def test_versions_registered_while_serve_is_down_are_validated_by_one_sweep_tick(
    own_mlflow: Proc, churn: Any, serve_env: dict[str, str], tmp_path: Path
) -> None:
    train, _, model = churn
    client = MlflowClient(tracking_uri=own_mlflow.url)
    name = f"swept-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {**serve_env, "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": WEBHOOK_SECRET}
    url = f"http://127.0.0.1:{port}/webhooks/mlflow"
    registered = cli_here("webhooks", "register", "--url", url, env=env, cwd=tmp_path)
    assert registered.returncode == 0, registered.stderr
    hooks = [h.webhook_id for h in client.list_webhooks() if h.url == url]
    webhook_cache_expired()
    serve = None
    try:
        # serve is down: MLflow's deliveries of these three fail and are dropped
        versions = [log_and_register(own_mlflow.url, name, model, train) for _ in range(3)]
        time.sleep(3)  # past MLflow's retries (MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES=1 here)
        serve = start_serve_process("serve-swept", tmp_path, env, port)
        for version in versions:
            wait_for(lambda v=version: verdict(client, name, v), WAIT, f"v{version}'s verdict")
            assert verdict(client, name, version) == "passed"
        found = events_of(serve, name, "model_registered")
        assert sorted(e["version"] for e in found) == versions  # one event each
        assert {e["source"] for e in found} == {"sweep"}
        # ... raised by one sweep tick: the first after serve started
        ticks = [
            e
            for e in HTTP.get(
                f"{serve.url}/events", params={"kind": "scheduled", "all": "true", "limit": 1000}
            ).json()
            if e["task"] == "sweep" and e["status"] == "done"
        ]
        raised_by = [
            t
            for t in ticks
            if {e["id"] for e in found}
            <= set(HTTP.get(f"{serve.url}/events/{t['id']}").json()["outcome"]["emitted"])
        ]
        assert len(raised_by) == 1, ticks
        # hidden from the default listing: a sweep every 2 s must not bury the events
        listed = HTTP.get(f"{serve.url}/events", params={"kind": "scheduled"}).json()
        assert not [e for e in listed if e["task"] == "sweep"]

        # serve is up: the webhook delivers v4 and the sweep finds it too; one event
        v4 = log_and_register(own_mlflow.url, name, model, train)
        wait_for(lambda: verdict(client, name, v4), WAIT, "v4's verdict")

        def v4_twice() -> dict[str, Any] | None:
            [event] = [e for e in events_of(serve, name, "model_registered") if e["version"] == v4]
            return event if event["deliveries"] >= 2 else None

        event = wait_for(v4_twice, WAIT, "v4 announced by both the webhook and the sweep")
        assert event["source"] == "mlflow"  # the webhook came first
        assert len(events_of(serve, name, "model_registered")) == 4
    finally:
        if serve is not None:
            serve.stop()
        for hook in hooks:
            client.delete_webhook(hook)


def test_poll_only_validates_and_hears_a_challenger_alias_with_no_webhook(
    own_mlflow: Proc, churn: Any, serve_env: dict[str, str], tmp_path: Path
) -> None:
    train, _, model = churn
    client = MlflowClient(tracking_uri=own_mlflow.url)
    name = f"swept-{uuid.uuid4().hex[:6]}"
    # no webhook secret, no webhook registered
    serve = start_serve_process("serve-poll", tmp_path, serve_env, 0, "--poll-only")
    try:
        assert not [h for h in client.list_webhooks() if serve.url in h.url]
        signed_only = HTTP.post(f"{serve.url}/webhooks/mlflow", content=b"{}")
        assert signed_only.status_code == 503  # no secret: nothing unsigned gets in
        v1 = log_and_register(own_mlflow.url, name, model, train)
        wait_for(lambda: verdict(client, name, v1), WAIT, "v1's verdict without a webhook")
        assert verdict(client, name, v1) == "passed"

        client.set_registered_model_alias(name, "challenger", v1)  # a person, by hand
        wait_for(lambda: version_with_alias(client, name) == v1, WAIT, "v1 as champion")
        # the alias moves before the handler ends: wait for the event, do not race it
        wait_for(
            lambda: (
                [e["status"] for e in events_of(serve, name, "promotion_requested")] == ["done"]
            ),
            WAIT,
            "the promotion request to end done",
        )
        [request] = events_of(serve, name, "promotion_requested")
        assert request["source"] == "sweep" and request["version"] == v1
        [registered] = events_of(serve, name, "model_registered")
        assert registered["source"] == "sweep"
    finally:
        serve.stop()
