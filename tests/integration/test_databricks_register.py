"""`webhooks register --databricks` drives the real databricks-sdk against a local fake."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_databricks import WEBHOOKS, fake_databricks
from tests.support.fake_http import FakeHTTP
from tests.support.processes import BIN


@pytest.fixture
def databricks() -> Iterator[tuple[FakeHTTP, str]]:
    fake = fake_databricks()
    url = fake.start()
    yield fake, url
    fake.stop()


def register(
    url: str, tmp_path: Path, *extra: str, retry_seconds: int = 3
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABRICKS_HOST": url,
        "DATABRICKS_TOKEN": "dapi-test",
        "MLOPS_HOOKS_DATABRICKS_WEBHOOK_SECRET": "dbx-secret-value",
        "MLOPS_HOOKS_DATABRICKS_RETRY_TIMEOUT_SECONDS": str(retry_seconds),
    }
    return subprocess.run(
        [
            str(BIN / "mlops-hooks"),
            "webhooks",
            "register",
            "--databricks",
            "--url",
            "https://hooks.example.com/webhooks/databricks",
            *extra,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_creates_then_updates_the_registry_webhook_with_the_secret(databricks, tmp_path):
    fake, url = databricks
    fake.fail_next("POST", f"{WEBHOOKS}/create", 503)  # the SDK retries a 503
    first = register(url, tmp_path, "--model", "churn")
    assert first.returncode == 0, first.stderr
    assert "created webhook hook-1" in first.stdout
    [create] = [r for r in fake.calls("POST", f"{WEBHOOKS}/create")][-1:]
    body = create.json()
    assert body["http_url_spec"] == {
        "url": "https://hooks.example.com/webhooks/databricks",
        "secret": "dbx-secret-value",
    }
    assert body["events"] == ["MODEL_VERSION_CREATED", "TRANSITION_REQUEST_CREATED"]
    assert body["model_name"] == "churn"
    assert create.headers["authorization"] == "Bearer dapi-test"
    assert len(fake.calls("POST", f"{WEBHOOKS}/create")) == 2  # 503, then the retry
    assert "dbx-secret-value" not in first.stdout + first.stderr

    second = register(url, tmp_path, "--model", "churn")
    assert second.returncode == 0 and "updated webhook hook-1" in second.stdout
    assert len(fake.calls("PATCH", f"{WEBHOOKS}/update")) == 1
    assert len(fake.calls("POST", f"{WEBHOOKS}/create")) == 2


def test_unreachable_workspace_fails_in_one_line(tmp_path):
    # the SDK spends the budget twice (its host-metadata probe, then the call), each retry
    # sleeping 1-2 s: 1 s gives up after one refused connection each, ~3 s in all instead of ~9
    result = register("http://127.0.0.1:9", tmp_path, retry_seconds=1)
    assert result.returncode != 0
    assert result.stderr.startswith("error: could not register the webhook")
