"""Create (or update) the registry webhooks that point at our edge.

Idempotent: a webhook already pointing at the same URL is updated in place, never
duplicated, because two webhooks would double every delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_hooks.shared.adapters.mlflow_workspace import workspace_scope
from mlops_hooks.shared.domain.errors import ConfigError, PermanentError
from mlops_hooks.shared.domain.server_errors import ENCRYPTION_KEY, is_internal_error, unusable
from mlops_hooks.shared.ports.webhooks import Checked, Registered

if TYPE_CHECKING:
    from mlops_hooks.shared.settings import Settings


class WebhookProblem(PermanentError):
    """The server or the webhook cannot be used; the message is one line naming it."""


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
        with workspace_scope(workspace), mlflow_server(settings.mlflow_tracking_uri):
            return register_mlflow_webhook(
                tracking_uri=settings.mlflow_tracking_uri,
                url=url,
                secret=secret,
                events=events or MLFLOW_EVENTS,
                name=name,
            )

    def check(self, *, url: str | None, name: str, workspace: str | None = None) -> Checked:
        uri = self.settings.mlflow_tracking_uri
        if not uri:
            raise ConfigError("set MLFLOW_TRACKING_URI to the MLflow server the webhook is on")
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        with workspace_scope(workspace), mlflow_server(uri, client):
            hooks = _all_mlflow_webhooks(client)
            mine = [h for h in hooks if (h.url == url if url else h.name == name)]
            if not mine:
                wanted = f"for {url}" if url else f"named {name!r}"
                raise WebhookProblem(
                    f"the MLflow server at {uri} has no webhook {wanted} ({len(hooks)} others): "
                    "run `mlops-hooks webhooks register --url URL`"
                )
            hook = mine[0]
            result = client.test_webhook(hook.webhook_id)
        return judge_test_delivery(
            f"{hook.webhook_id} -> {hook.url}",
            status=result.response_status,
            body=result.response_body or "",
            error=result.error_message or "",
        )


class mlflow_server:  # used as a context manager, read as a phrase
    """Errors from the MLflow server, as one line naming it and the cause; an internal error
    of the webhooks API alone (the rest answers) is the encryption key's."""

    def __init__(self, uri: str, client: object | None = None) -> None:
        self.uri, self.client = uri, client

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, PermanentError):
            return
        if is_internal_error(exc) and self._rest_answers():
            raise WebhookProblem(f"the MLflow server at {self.uri}: {ENCRYPTION_KEY}") from None
        raise WebhookProblem(unusable("MLflow server", self.uri, exc)) from None

    def _rest_answers(self) -> bool:
        from mlflow import MlflowClient

        client = self.client or MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        try:
            client.search_registered_models(max_results=1)  # type: ignore[attr-defined]
        except Exception:
            return False
        return True


def judge_test_delivery(webhook: str, *, status: int | None, body: str, error: str) -> Checked:
    """Pure: what MLflow's test delivery to our edge showed, in one line."""
    import json

    if status is None:  # it never arrived: the server could not send it
        return Checked(False, webhook, f"not delivered: {_not_sent(error)}")
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = {}
    said = answer.get("error") if isinstance(answer, dict) else None
    if status == 401:
        return Checked(
            False,
            webhook,
            f"delivered but refused (401: {said or 'unauthorized'}): the webhook's secret is "
            "not the MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET serve verifies with; run `mlops-hooks "
            "webhooks register` again with serve's secret",
        )
    if status == 503 and said:
        return Checked(False, webhook, f"delivered but refused (503): {said}")
    if status >= 400 or not isinstance(answer, dict) or "id" not in answer:
        return Checked(
            False,
            webhook,
            f"delivered, but the URL answered {status}: {(said or body)[:200]!r} (is it "
            "mlops-hooks' /webhooks/mlflow route?)",
        )
    return Checked(
        True,
        webhook,
        f"arrived, verified and recorded as {answer['id']} ({answer.get('reason') or 'event'})",
        event_id=answer["id"],
    )


def _not_sent(error: str) -> str:
    from mlops_hooks.shared.domain.server_errors import cause_of

    lowered = error.lower()
    if "not a public ip" in lowered:  # MLflow's SSRF guard (mlflow/webhooks/ssrf.py)
        return (
            f"the MLflow server refuses private addresses ({error[:160]}); start it with "
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true for a URL on this network"
        )
    if "scheme" in lowered:
        return (
            f"the MLflow server refuses the URL's scheme ({error[:160]}); start it with "
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https for a plain-http URL"
        )
    return f"the MLflow server cannot reach the URL: {cause_of(error)}"


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
