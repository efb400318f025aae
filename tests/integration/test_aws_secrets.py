"""Secrets at run time from SSM Parameter Store (moto server), through Powertools parameters."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from mlops_hooks.functions.wiring import load_settings
from mlops_hooks.shared.adapters.aws_secrets import SecretsError


def test_secrets_come_from_one_securestring_json_and_are_never_shown(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"/mlops-hooks/test-{uuid.uuid4().hex[:6]}/secrets"
    boto3.client("ssm", endpoint_url=moto_server).put_parameter(
        Name=name,
        Type="SecureString",
        Value=json.dumps(
            {"mlflow_webhook_secret": "s3cret-mlflow", "slack_signing_secret": "s3cret-slack"}
        ),
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("MLOPS_HOOKS_SECRETS_SSM", name)
    settings = load_settings()
    assert settings.secret("mlflow_webhook_secret") == "s3cret-mlflow"
    assert settings.secret("slack_signing_secret") == "s3cret-slack"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())

    monkeypatch.setenv("MLOPS_HOOKS_SECRETS_SSM", name + "-missing")
    with pytest.raises(SecretsError, match=r"cannot read secrets parameter .*-missing: "):
        load_settings()
