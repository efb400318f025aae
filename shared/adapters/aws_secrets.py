"""Secrets read at run time on AWS: one SSM Parameter Store SecureString holding a JSON object
of settings (``{"mlflow_webhook_secret": "...", "slack_signing_secret": "...", ...}``), fetched
with Powertools parameters (cached for ``max_age`` seconds across warm invocations). Nothing of
it is in the CloudFormation template or the functions' environment."""

from __future__ import annotations

from typing import Any

from mlops_hooks.shared.domain.errors import ConfigError


class SecretsError(ConfigError):
    """The secrets document cannot be read or is not a JSON object; one line, no values."""


def settings_from_ssm(name: str, *, max_age: int = 300) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters

    try:
        values = parameters.get_parameter(name, decrypt=True, transform="json", max_age=max_age)
    except Exception as exc:  # never echo the value: only the parameter's name and the error
        raise SecretsError(f"cannot read secrets parameter {name}: {type(exc).__name__}") from None
    if not isinstance(values, dict):
        raise SecretsError(f"secrets parameter {name} is not a JSON object")
    return values
