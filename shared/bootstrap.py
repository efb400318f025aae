"""bootstrap: the one place that turns settings into ports and a dispatcher.

Everything else receives what it needs; tests pass fakes for any port.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mlops_hooks.shared.adapters.renderer import ReportRenderer
from mlops_hooks.shared.dispatch import Dispatcher, RetryPolicy
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.ledger import Ledger, LedgerError
from mlops_hooks.shared.ports.notifier import Notifier
from mlops_hooks.shared.ports.outcome import Handler
from mlops_hooks.shared.ports.runtime import Clock, NoQueue, Queue, SystemClock
from mlops_hooks.shared.settings import Settings, settings_from


def bootstrap(
    settings: Settings,
    *,
    handlers: Mapping[EventKind, Handler],
    ledger: Ledger | None = None,
    queue: Queue | None = None,
    clock: Clock | None = None,
    **ports: Any,
) -> Dispatcher:
    """Build the dispatcher. Any port given here wins over what settings would build.

    The handler table comes from the caller (the edge: ``mlops_hooks.functions.wiring``):
    the shared layer knows the handlers' contract, never the handlers themselves.
    """
    if ledger is None:
        ledger = open_ledger(settings)
    if queue is None:
        queue = _queue_from(settings)
    if "notifier" not in ports:
        ports["notifier"] = notifier_from(settings)
    ports.setdefault("renderer", ReportRenderer())
    ports.setdefault("webhooks", LazyPort(lambda: _webhooks_from(settings)))
    ports.setdefault("registries", registries_from(settings))
    ports.setdefault("tables", _tables_from(settings))
    ports.setdefault("policy", lambda: _policy_from(settings))
    clock = clock or SystemClock()
    ports.setdefault("jobs", jobs_from(settings, ledger, clock))
    deps = Deps(settings=settings, ledger=ledger, clock=clock, **ports)
    return Dispatcher(
        ledger,
        handlers,
        deps,
        queue=queue,
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
        ),
        lease_seconds=settings.lease_seconds,
    )


def open_ledger(settings: Settings) -> Ledger:
    """The one place that maps a ledger URL to its adapter."""
    url = settings.resolved_ledger_url
    if url.startswith("sqlite:///"):
        from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger

        return SqliteLedger(
            url.removeprefix("sqlite:///"),
            tick_retention_days=settings.tick_retention_days,
            wal_limit_mb=settings.ledger_wal_limit_mb,
            checkpoint_seconds=settings.ledger_checkpoint_seconds,
            sync_helper=settings.ledger_sync_helper,
        )
    if url.startswith("dynamodb://"):
        from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger

        return DynamoDBLedger(
            url.removeprefix("dynamodb://"),
            endpoint_url=settings.aws_endpoint_url,
            tick_retention_days=settings.tick_retention_days,
            run_retention_days=settings.run_retention_days,
        )
    raise LedgerError(f"unknown ledger URL {url!r}: use sqlite:///path or dynamodb://table")


class LazyPort:
    """A port built on first use: the edge functions bootstrap too, and must not import
    databricks-sdk (or anything else heavy) unless an event needs it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._port: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._port is None:
            with self._lock:
                if self._port is None:
                    self._port = self._factory()
        return getattr(self._port, name)

    def close_if_built(self) -> None:
        """Close the port if it was ever built (and can be closed); never build it for that."""
        closer = getattr(self._port, "close", None) if self._port is not None else None
        if closer is not None:
            closer()


def jobs_from(settings: Settings, ledger: Ledger, clock: Clock) -> Any:
    """Where jobs run: local subprocesses (default) or the Databricks workspace."""

    def build() -> Any:
        if settings.jobs_backend == "databricks":
            from mlops_hooks.shared.adapters.databricks_jobs import DatabricksJobs

            return DatabricksJobs.from_settings(settings, ledger, clock)
        from mlops_hooks.shared.adapters.local_jobs import LocalJobs

        env = {}
        if settings.mlflow_tracking_uri:
            env["MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
        if settings.aws_endpoint_url:
            env["AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
        return LocalJobs(
            ledger, settings.state_dir / "jobs", clock, env=env, warm=settings.jobs_warm
        )

    return LazyPort(build)


def notifier_from(settings: Settings) -> Notifier:
    """Slack when configured (an incoming webhook wins over a bot token), else the log."""
    webhook, token = settings.secret("slack_webhook_url"), settings.secret("slack_bot_token")
    if webhook or token:
        from mlops_hooks.shared.adapters.slack_notifier import SlackNotifier

        return SlackNotifier(
            webhook_url=webhook,
            bot_token=token,
            channel=settings.slack_channel,
            api_url=settings.slack_api_url,
        )
    from mlops_hooks.shared.adapters.log_notifier import LogNotifier

    return LogNotifier()


def _queue_from(settings: Settings) -> Queue:
    if settings.queue_url:
        from mlops_hooks.shared.adapters.sqs_queue import SqsQueue

        return SqsQueue(settings.queue_url, endpoint_url=settings.aws_endpoint_url)
    return NoQueue()


class LazyPorts(Mapping[str, Any]):
    """name -> port, each built on first use: an edge function never pays for mlflow."""

    def __init__(self, factories: Mapping[str, Callable[[], Any]]) -> None:
        self._factories = dict(factories)
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            factory = self._factories[name]  # KeyError: not configured
            with self._lock:
                if name not in self._built:
                    self._built[name] = factory()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)


def registries_from(settings: Settings) -> LazyPorts:
    """The registries this deployment reaches: MLflow OSS and/or a Databricks workspace."""
    factories: dict[str, Callable[[], Any]] = {}
    if settings.mlflow_tracking_uri and settings.mlflow_tracking_uri != "databricks":

        def mlflow_registry() -> Any:
            from mlops_hooks.shared.adapters.mlflow_registry import MlflowRegistry

            uri = str(settings.mlflow_tracking_uri)
            return MlflowRegistry(uri, ui_url=settings.mlflow_ui_url)

        factories["mlflow"] = mlflow_registry
    if settings.databricks_host:

        def databricks_registry() -> Any:
            from mlops_hooks.shared.adapters.databricks_registry import DatabricksRegistry

            return DatabricksRegistry.from_settings(settings)

        factories["databricks"] = databricks_registry
    return LazyPorts(factories)


def _tables_from(settings: Settings) -> Any:
    from mlops_hooks.shared.adapters.table_reader import TableReader

    return TableReader(endpoint_url=settings.aws_endpoint_url)


SECRETS_SSM_ENV = "MLOPS_HOOKS_SECRETS_SSM"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with a one-line error instead of a pydantic dump.

    With ``MLOPS_HOOKS_SECRETS_SSM`` set (on AWS), the SecureString JSON document it names adds
    the secrets (shared/adapters/aws_secrets.py); explicit overrides still win.
    """
    import os

    name = os.environ.get(SECRETS_SSM_ENV)
    if name:
        from mlops_hooks.shared.adapters.aws_secrets import settings_from_ssm

        overrides = {**settings_from_ssm(name), **overrides}
    return settings_from(**overrides)


def _webhooks_from(settings: Settings) -> Any:
    from mlops_hooks.shared.adapters.webhook_registration import WebhookRegistrar

    return WebhookRegistrar(settings)


def _policy_from(settings: Settings) -> Any:
    """The policy file, watched: an edit applies to the next event without a restart."""
    from mlops_hooks.shared.domain.policy import PolicyWatch

    return PolicyWatch(settings.policy)


HOST_WARM_UP_SECONDS = 60  # the longest the imports wait for the job host
# what a first validation imports: MLflow's pyfunc and evaluator, scikit-learn's metrics, skops
# (the format the scikit-learn models are logged in; 0.85 s). Not pyplot (0.3 s, the first
# comparison's plot): every `serve` would pay it, the test suite's 23 included
WARM_IMPORTS = ("mlflow.pyfunc", "mlflow.models", "sklearn.metrics", "pandas", "skops.io")


def warm_up(deps: Deps, importing: threading.Lock | None = None) -> None:
    """Start the warm job host when the policy launches jobs, build the registries and import
    what a first validation needs (WARM_IMPORTS), so the first event does not pay seconds.

    ``serve`` calls this on a background thread; the edge functions never do. ``importing``
    is held while it imports (the dispatcher's handlers wait for it meanwhile).
    """
    import importlib
    import logging

    log = logging.getLogger("mlops_hooks.bootstrap")
    try:
        # the warm job host first (Spark started before the first data lands), and this
        # process's imports once it is warm: on a small machine both compete for the same
        # cores, and the host gates the first job while the imports gate only the validation
        # after it (the demo's steps: 43 s against 44.5, the mean of 4 runs each)
        start_host = getattr(deps.jobs, "start_host", None)
        if start_host is not None and deps.loaded_policy().runs_jobs():
            start_host(wait_seconds=HOST_WARM_UP_SECONDS)
        with importing or contextlib.nullcontext():
            for name in deps.registries:
                deps.registries[name]  # imports the registry's SDK (MLflow, databricks-sdk)
            if deps.registries:
                for module in WARM_IMPORTS:
                    importlib.import_module(module)
                from mlops_hooks.shared.adapters.pyfunc_model import prime_loading

                prime_loading()
    except Exception as exc:  # a registry that is down now may be up by the first event
        log.warning("warm-up incomplete: %s: %s", type(exc).__name__, exc)
