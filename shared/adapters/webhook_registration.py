"""Create (or update) the registry webhooks that point at our edge.

Idempotent: a webhook already pointing at the same URL is updated in place, never
duplicated, because two webhooks would double every delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_hooks.shared.adapters.mlflow_workspace import workspace_scope
from mlops_hooks.shared.domain.errors import ConfigError
from mlops_hooks.shared.ports.webhooks import Registered

if TYPE_CHECKING:
    from mlops_hooks.shared.settings import Settings

MLFLOW_EVENTS = ["model_version.created", "model_version_alias.created", "model_version_tag.set"]
DATABRICKS_EVENTS = [
    "MODEL_VERSION_CREATED",
    "TRANSITION_REQUEST_CREATED",
]


class WebhookRegistrar:
    """The Webhooks port over settings: the server, credentials and secrets configured here."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(
        self,
        registry: str,
        *,
        url: str,
        events: list[str] | None,
        name: str,
        model: str | None,
        workspace: str | None = None,
    ) -> Registered:
        settings = self.settings
        if registry == "databricks":
            secret = settings.secret("databricks_webhook_secret")
            if not secret:
                raise ConfigError(
                    "set MLOPS_HOOKS_DATABRICKS_WEBHOOK_SECRET first: it signs every delivery"
                )
            return register_databricks_webhook(
                host=settings.databricks_host,
                token=settings.secret("databricks_token"),
                url=url,
                secret=secret,
                events=events or DATABRICKS_EVENTS,
                model_name=model,
                retry_timeout_seconds=settings.databricks_retry_timeout_seconds,
            )
        secret = settings.secret("mlflow_webhook_secret")
        if not secret:
            raise ConfigError(
                "set MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET first: it signs every delivery"
            )
        if not settings.mlflow_tracking_uri:
            raise ConfigError(
                "set MLFLOW_TRACKING_URI to the MLflow server (webhooks need a server with a SQL "
                "backend)"
            )
        with workspace_scope(workspace):  # a webhook belongs to its workspace
            return register_mlflow_webhook(
                tracking_uri=settings.mlflow_tracking_uri,
                url=url,
                secret=secret,
                events=events or MLFLOW_EVENTS,
                name=name,
            )


def register_mlflow_webhook(
    *, tracking_uri: str, url: str, secret: str, events: list[str], name: str
) -> Registered:
    from mlflow import MlflowClient

    # the registry is the tracking server we were given: never a MLFLOW_REGISTRY_URI inherited
    # from elsewhere (mlflow.set_registry_uri exports it to every child process)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    existing = [w for w in _all_mlflow_webhooks(client) if w.url == url]
    if existing:
        hook = client.update_webhook(
            existing[0].webhook_id,
            name=name,
            url=url,
            events=events,
            secret=secret,
            status="ACTIVE",
        )
        return Registered(hook.webhook_id, url, [str(e) for e in hook.events], created=False)
    hook = client.create_webhook(
        name=name,
        url=url,
        events=events,
        secret=secret,
        description="mlops-hooks: registry events -> validation, promotion, retraining",
    )
    return Registered(hook.webhook_id, url, [str(e) for e in hook.events], created=True)


def _all_mlflow_webhooks(client: object) -> list:
    hooks, token = [], None
    while True:
        page = client.list_webhooks(max_results=100, page_token=token)  # type: ignore[attr-defined]
        hooks.extend(page)
        token = page.token
        if not token:
            return hooks


def register_databricks_webhook(
    *,
    host: str | None,
    token: str | None,
    url: str,
    secret: str,
    events: list[str],
    model_name: str | None,
    retry_timeout_seconds: int = 60,
) -> Registered:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config
    from databricks.sdk.service.ml import HttpUrlSpec, RegistryWebhookEvent

    config = Config(host=host, token=token, retry_timeout_seconds=retry_timeout_seconds)
    client = WorkspaceClient(config=config)
    wanted = [RegistryWebhookEvent(e) for e in events]
    spec = HttpUrlSpec(url=url, secret=secret)
    for hook in client.model_registry.list_webhooks(model_name=model_name):
        if hook.http_url_spec and hook.http_url_spec.url == url:
            client.model_registry.update_webhook(id=hook.id, events=wanted, http_url_spec=spec)
            return Registered(str(hook.id), url, events, created=False)
    created = client.model_registry.create_webhook(
        events=wanted,
        http_url_spec=spec,
        model_name=model_name,
        description="mlops-hooks: registry events -> validation, promotion, retraining",
    )
    hook_id = created.webhook.id if created.webhook else ""
    return Registered(str(hook_id), url, events, created=True)
