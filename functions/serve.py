"""`mlops-hooks serve`: the HTTP edge, the ledger and a worker pool in one process."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from mlops_hooks.functions import scratch
from mlops_hooks.shared.domain.errors import ConfigError, MlopsHooksError
from mlops_hooks.shared.settings import Settings

log = logging.getLogger("mlops_hooks.serve")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class ServeError(ConfigError):
    """The server cannot start; the message says what to set."""


def check_startup(settings: Settings, *, insecure_no_signature: bool) -> None:
    from mlops_hooks.shared.domain.policy import PolicyError, load_policy

    path = settings.resolved_policy_path
    try:
        load_policy(path)
    except PolicyError as exc:
        raise ServeError(f"invalid policy {path}:\n" + "\n".join(exc.errors)) from None
    if insecure_no_signature:
        log.warning(
            "INSECURE: --insecure-no-signature is on. Webhook signatures are NOT checked; "
            "anyone who can reach this port can trigger validation, promotion and training."
        )
        return
    if settings.poll_only:
        if not settings.sweep_seconds:
            raise ServeError(
                "--poll-only finds changes with the registry sweep, but "
                "MLOPS_HOOKS_SWEEP_SECONDS is 0 (off): set it to the tick in seconds (10)"
            )
    elif settings.secret("mlflow_webhook_secret") is None:
        raise ServeError(
            "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET is not set: every webhook must be signed. "
            "Set it to the secret you give `mlops-hooks webhooks register`, or run without "
            "webhooks (--poll-only: the registry sweep finds every change), or pass "
            "--insecure-no-signature for a local experiment."
        )


def announce(settings: Settings) -> None:
    """Say at start-up what this serve will do: the policy (and its hash), the registries it
    reaches (and whether they answer), which webhook routes take deliveries, the sweep. A
    missing registry is said here, not discovered when the first version goes dead."""
    import hashlib

    path = settings.resolved_policy_path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path else None
    log.info(
        "policy: %s", f"{path} (sha256 {digest})" if path else "built-in default (no mlops.yml)"
    )
    for line in approval_lines(settings):
        log.info("promotion: %s", line)
    uri = settings.mlflow_tracking_uri
    reached = [_registry_line(str(uri))] if uri and uri != "databricks" else []
    if settings.databricks_host:
        reached.append(f"databricks ({settings.databricks_host})")
    if reached:
        log.info("registries: %s", "; ".join(reached))
    else:
        log.warning(
            "no registry is configured (MLFLOW_TRACKING_URI, DATABRICKS_HOST): events about "
            "model versions fail until one is, and there is nothing to sweep"
        )
    routes = [
        ("/webhooks/mlflow", "mlflow_webhook_secret", "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET"),
        (
            "/webhooks/databricks",
            "databricks_webhook_secret",
            "MLOPS_HOOKS_DATABRICKS_WEBHOOK_SECRET",
        ),
        ("/slack/actions", "slack_signing_secret", "SLACK_SIGNING_SECRET"),
    ]
    log.info(
        "routes: %s",
        "; ".join(
            f"{route} takes signed deliveries"
            if settings.secret(key)
            else f"{route} answers 503 ({env} is not set)"
            for route, key, env in routes
        ),
    )
    if settings.sweep_seconds and reached:
        mode = "poll-only: no registry webhooks, " if settings.poll_only else ""
        log.info("%sregistry sweep every %gs", mode, settings.sweep_seconds)
    else:
        log.info("registry sweep off")


def approval_lines(settings: Settings) -> list[str]:
    """How a validated version becomes champion, per policy level, with what is configured."""
    from mlops_hooks.shared.domain.policy import how_approved, load_policy

    policy = load_policy(settings.resolved_policy_path)
    slack = slack_configured(settings)
    levels = [("defaults", "*"), *((f"model {e.name!r}", e.name) for e in policy.file.models)]
    return [
        f"{where}: {how_approved(policy.for_model(name).promotion, slack=slack)}"
        for where, name in levels
    ]


def slack_configured(settings: Settings) -> bool:
    """Reviewers can be asked on Slack: a way to post, and the signing secret for the clicks."""
    return bool(
        settings.secret("slack_signing_secret")
        and (settings.secret("slack_bot_token") or settings.secret("slack_webhook_url"))
    )


def _registry_line(uri: str) -> str:
    """The MLflow server, and whether its /health answers now (2 s at most)."""
    import urllib.request

    if not uri.startswith(("http://", "https://")):
        return f"mlflow ({uri})"
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=2) as answer:  # noqa: S310
            state = "answers" if answer.status == 200 else f"answers {answer.status}"
    except Exception as exc:  # said, not fatal: it may be up by the first event
        state = f"does not answer now ({type(exc).__name__})"
    return f"mlflow ({uri}: {state})"


def check_port(host: str, port: int) -> None:
    """Refuse a port something already listens on, in one line (uvicorn would say so only
    after everything had started, and after `serve` had said it was listening)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                "(another serve? choose another --port)"
            ) from None


def run_server(
    settings: Settings,
    *,
    host: str,
    port: int,
    insecure_no_signature: bool = False,
    log_level: str = "info",
) -> None:
    check_port(host, port)  # before anything starts, and before it says it is listening
    check_startup(settings, insecure_no_signature=insecure_no_signature)
    announce(settings)
    folder = scratch.claim()  # this serve's temporary files, removed whole when it stops
    terminated = _TerminatedHandler.install()
    try:
        _run(settings, host, port, insecure_no_signature, log_level)
    except Terminated:
        pass
    finally:
        scratch.release(folder)
        terminated.uninstall()
    terminated.die_as_terminated()


class Terminated(MlopsHooksError):
    """SIGTERM (systemd, Kubernetes, docker stop), raised once the HTTP server has drained."""


class _TerminatedHandler:
    """SIGTERM as a clean stop. uvicorn drains the HTTP server on SIGTERM, then restores the
    handler it found and raises the signal again; with the default handler that killed the
    process there and then: the workers were never stopped, nor the ledger closed, nor the
    temporary files removed. With this one the stop unwinds through every ``finally``, and
    the process then ends by SIGTERM all the same (what its supervisor expects to see)."""

    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.received = False

    @classmethod
    def install(cls) -> _TerminatedHandler:
        if threading.current_thread() is not threading.main_thread():  # tests, embedding
            return cls(None)
        handler = cls(signal.getsignal(signal.SIGTERM))
        signal.signal(signal.SIGTERM, handler)
        return handler

    def __call__(self, signum: int, frame: Any) -> None:
        if not self.received:  # a second SIGTERM while stopping does not cut the stop short
            self.received = True
            raise Terminated

    def uninstall(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    def die_as_terminated(self) -> None:
        if self.received:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)


def _run(
    settings: Settings, host: str, port: int, insecure_no_signature: bool, log_level: str
) -> None:
    import uvicorn

    from mlops_hooks.functions.app import create_app
    from mlops_hooks.functions.runtime import Runtime, settle_heap
    from mlops_hooks.functions.wiring import build_dispatcher
    from mlops_hooks.handlers import HandlerConfigError
    from mlops_hooks.shared.bootstrap import warm_up
    from mlops_hooks.shared.dispatch import WorkerPool

    pool = WorkerPool(size=settings.workers, poll_seconds=settings.poll_seconds)
    try:
        dispatcher = build_dispatcher(settings, queue=pool)
    except HandlerConfigError as exc:
        raise ServeError(str(exc)) from None
    except Exception as exc:
        raise ServeError(f"cannot open the ledger {settings.resolved_ledger_url}: {exc}") from None
    pool.start(dispatcher)
    if settings.warm_up:
        threading.Thread(
            target=warm_up,
            args=(dispatcher.deps, dispatcher.warming),
            name="warm-up",
            daemon=True,
        ).start()
    ingest = _start_ingest(settings, dispatcher)
    from mlops_hooks.functions.scheduler import Scheduler

    scheduler = Scheduler.from_policy(dispatcher)
    _follow_policy_edits(dispatcher, scheduler)
    scheduler.start()
    public = host not in LOOPBACK
    if public and settings.secret("api_token") is None:
        log.warning("bound to %s: GET /events answers 403 until MLOPS_HOOKS_API_TOKEN is set", host)
    runtime = Runtime(
        settings, dispatcher, insecure_no_signature=insecure_no_signature, public=public
    )
    pool.edge_busy = runtime.group_commit.busy  # accepting deliveries comes first
    app = create_app(runtime)
    settle_heap()
    log.info(
        "ledger %s, %d workers, listening on http://%s:%d",
        settings.resolved_ledger_url,
        settings.workers,
        host,
        port,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        scheduler.stop()
        if ingest is not None:
            ingest.stop()
        pool.stop()
        runtime.close()
        close_jobs = getattr(dispatcher.deps.jobs, "close_if_built", None)
        if close_jobs is not None:
            close_jobs()  # the warm job host this serve started
        dispatcher.ledger.close()


def _follow_policy_edits(dispatcher: Any, scheduler: Any) -> None:
    """A reloaded policy re-plans the schedules and retries the validations that ended in a
    configuration error (a holdout that could not be read may be readable now)."""
    from mlops_hooks.shared.domain.policy import PolicyWatch

    watch = dispatcher.deps.policy
    if isinstance(watch, PolicyWatch):
        watch.on_change.extend([scheduler.replan, lambda _: retry_config_errors(dispatcher)])


def retry_config_errors(dispatcher: Any, *, scan: int = 1000) -> list[str]:
    """Queue again the newest validations whose verdict was ``error``; returns their ids."""
    from mlops_hooks.shared.domain.events import EventKind
    from mlops_hooks.shared.ports.ledger import Status

    ledger, now = dispatcher.ledger, dispatcher.clock.now()
    errored = [
        r.id
        for r in ledger.list(kind=EventKind.MODEL_REGISTERED, status=Status.DONE, limit=scan)
        if (r.outcome or {}).get("result") == "error"
    ]
    for event_id in errored:
        ledger.requeue(event_id, now=now, reason="policy changed")
        dispatcher.queue.notify(event_id)
    if errored:
        log.info(
            "policy changed: %d validation(s) with a configuration error queued again", len(errored)
        )
    return errored


def _start_ingest(settings: Settings, dispatcher: Any) -> Any:
    """Poll MLOPS_HOOKS_INGEST_QUEUE_URL (AWS notifications) into the ledger, if it is set."""
    if not settings.ingest_queue_url:
        return None
    from mlops_hooks.functions.aws_events import events_from_aws
    from mlops_hooks.shared.adapters.sqs_ingest import SqsIngest

    ingest = SqsIngest(
        settings.ingest_queue_url,
        lambda doc: dispatcher.submit_many(events_from_aws(doc)),
        endpoint_url=settings.aws_endpoint_url,
    )
    ingest.start()
    log.info("recording AWS notifications from %s", settings.ingest_queue_url)
    return ingest
