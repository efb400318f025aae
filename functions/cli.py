"""The `mlops-hooks` command line: serve, inspect and replay events, register webhooks,
compare a challenger with the champion, roll the champion back.

Errors print one readable line and exit non-zero; nothing here prints a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from mlops_hooks.functions.cli_approve import approve, reject
from mlops_hooks.functions.cli_common import (
    LONG_RUNNING,
    WideOption,
    as_data,
    bound_server_waits,
    dispatcher_or_fail,
    fail,
    one_line,
    out,
    print_rows,
    run_action,
    say,
    settings_or_fail,
    tell,
)
from mlops_hooks.functions.cli_demo import demo
from mlops_hooks.functions.cli_drift import drift
from mlops_hooks.functions.cli_jobs import jobs_app
from mlops_hooks.functions.cli_live import live
from mlops_hooks.functions.cli_local import local_env
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.settings import Settings

app = typer.Typer(
    name="mlops-hooks",
    help="Event-driven MLOps on model-registry webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
events_app = typer.Typer(help="Inspect and replay recorded events.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Register registry webhooks that point here.", no_args_is_help=True)
policy_app = typer.Typer(help="Check and show the policy file.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(policy_app, name="policy")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(jobs_app, name="jobs")
app.command()(drift)
app.command()(live)
app.command()(demo)
app.command()(approve)
app.command("local-env")(local_env)
app.command()(reject)

RequestOption = Annotated[
    str | None,
    typer.Option(
        help="Names this request: running the command again with the same id is a retry, "
        "carried out once [a new id each run]."
    ),
]
TimeoutOption = Annotated[float, typer.Option(min=1, help="Seconds to wait for the outcome.")]


def _in_workspace(arguments: dict, workspace: str | None, *, databricks: bool) -> None:
    """An MLflow workspace (often only inherited from MLFLOW_WORKSPACE) means nothing to a
    Databricks registry, whose registry port would refuse it."""
    if workspace and not databricks:
        arguments["workspace"] = workspace


WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        envvar="MLFLOW_WORKSPACE",
        help="The MLflow 3 workspace (a server with workspaces); default: MLFLOW_WORKSPACE.",
    ),
]


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    """Event-driven MLOps on model-registry webhooks."""
    if ctx.invoked_subcommand not in LONG_RUNNING:
        bound_server_waits()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # SDK chatter (config discovery, retries) is not the user's business;
        # nor are the dispatcher's retry lines: a command's failure is its one error line
        for noisy in ("databricks.sdk", "mlflow", "botocore", "urllib3", "mlops_hooks.dispatch"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


# --- serve --------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    state_dir: Annotated[
        Path | None, typer.Option(help="Where the ledger and logs live [MLOPS_HOOKS_STATE_DIR].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker threads draining the ledger [MLOPS_HOOKS_WORKERS].")
    ] = None,
    insecure_no_signature: Annotated[
        bool, typer.Option(help="Accept unsigned webhooks. Local experiments only.")
    ] = False,
    poll_only: Annotated[
        bool,
        typer.Option(
            help="No registry webhooks (Unity Catalog, a registry that cannot reach this "
            "machine): no webhook secret needed, the registry sweep finds every change "
            "[MLOPS_HOOKS_POLL_ONLY]."
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run the HTTP edge with its worker pool: webhooks in, handlers run, events recorded.

    The registry sweep runs every MLOPS_HOOKS_SWEEP_SECONDS (10) beside the webhooks."""
    from mlops_hooks.functions.serve import ServeError, run_server

    logging.getLogger().setLevel(log_level.upper())
    # unset options (None) leave the environment's settings in force
    settings = settings_or_fail(state_dir=state_dir, workers=workers, poll_only=poll_only or None)
    try:
        run_server(
            settings,
            host=host,
            port=port,
            insecure_no_signature=insecure_no_signature,
            log_level=log_level,
        )
    except ServeError as exc:
        fail(str(exc))


# --- events -------------------------------------------------------------------------------


class StatusChoice(StrEnum):
    received = "received"
    running = "running"
    done = "done"
    failed = "failed"
    dead = "dead"
    ignored = "ignored"


class KindChoice(StrEnum):
    model_registered = "model_registered"
    promotion_requested = "promotion_requested"
    data_landed = "data_landed"
    drift_detected = "drift_detected"
    scheduled = "scheduled"
    approval = "approval"
    action = "action"
    ignored = "ignored"


@events_app.command("list")
def events_list(
    status: Annotated[StatusChoice | None, typer.Option(help="Only this status.")] = None,
    kind: Annotated[KindChoice | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also the echoes of mlops-hooks' own registry writes and the housekeeping "
            "ticks (reconcile, sweep).",
        ),
    ] = False,
    wide: WideOption = False,
) -> None:
    """List recorded events, newest first (own-write echoes and housekeeping ticks hidden
    unless --all)."""
    dispatcher = dispatcher_or_fail(settings_or_fail())
    records = dispatcher.ledger.list(
        status=Status(status.value) if status else None,
        kind=EventKind(kind.value) if kind else None,
        limit=limit,
        everything=show_all,
    )
    if as_json:
        print(json.dumps([r.summary() for r in records], indent=2))
        return
    rows = []
    for r in records:
        model = f"{r.model} v{r.version}" if r.model and r.version else r.model or ""
        kind = (
            f"{r.kind.value}:{r.event.task}"
            if r.event.task and r.kind.value == "action"
            else r.kind.value
        )
        received = r.received_at.strftime("%m-%d %H:%M:%S")
        error = r.last_error or ""
        rows.append([r.id, kind, r.status.value, received, model, r.source, str(r.attempts), error])
    headers = ["id", "kind", "status", "received (UTC)", "model", "source", "att.", "last error"]
    print_rows(headers, rows, keys=4, wide=wide, console=out)
    if not records:
        say(_nothing_listed(status, kind, show_all))


def _nothing_listed(status: StatusChoice | None, kind: KindChoice | None, show_all: bool) -> str:
    """What an empty listing means: nothing matched the filters, or nothing was recorded."""
    wanted = [f"status {status.value}" for status in [status] if status]
    wanted += [f"kind {kind.value}" for kind in [kind] if kind]
    if wanted:
        return f"no events with {' and '.join(wanted)}"
    return "no events recorded yet" if show_all else "no events (--all also lists ticks and echoes)"


@events_app.command("show")
def events_show(
    event_id: Annotated[str, typer.Argument(help="Event id (ev_...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one event: its payload, attempts, outcome and history."""
    record = dispatcher_or_fail(settings_or_fail()).ledger.get(event_id)
    if record is None:
        fail(f"no event with id {event_id}", code=1)
    if as_json:
        print(record.model_dump_json(indent=2))
        return
    out.print(
        Text(record.id, style="bold")
        + "  "
        + record.kind.value
        + "  "
        + Text(record.status.value, style="bold"),
        highlight=False,
    )
    say(f"key: {record.key}")
    say(
        f"source: {record.source}   model: {record.model or '-'}   version: {record.version or '-'}"
    )
    say(f"attempts: {record.attempts}   deliveries: {record.deliveries}")
    if record.event.reason:  # why it is ignored, or who asked (an action)
        say(f"reason: {record.event.reason}")
    if record.last_error:
        say(f"last error: {record.last_error}")
    if record.outcome:
        say("outcome: " + json.dumps(record.outcome, indent=2))
    table = Table("at", "status", "detail")
    for h in record.history:
        detail = ", ".join(f"{k}={v}" for k, v in h.items() if k not in ("at", "status"))
        table.add_row(as_data(h["at"]), as_data(h["status"]), as_data(detail))
    out.print(table)


@events_app.command("replay")
def events_replay(
    event_id: Annotated[str, typer.Argument(help="Event id (ev_...).")],
    run: Annotated[
        bool,
        typer.Option(
            help="Run the handler here and now, instead of leaving it to a running `serve`."
        ),
    ] = False,
    request_id: RequestOption = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Queue an event to run again (attempts reset; its history is kept).

    The replay itself is recorded as an event (source cli, who ran it)."""
    if dispatcher_or_fail(settings_or_fail()).ledger.get(event_id) is None:
        fail(f"no event with id {event_id}", code=1)  # a typo records nothing
    record = run_action(
        "replay",
        {"event_id": event_id},
        failure=f"could not queue {event_id} again",
        request_id=request_id,
        timeout=timeout,
    )
    say(f"{record.outcome['summary'] if record.outcome else event_id + ' queued again'}")
    if not run:
        say("a running `mlops-hooks serve` will pick it up (or pass --run to run it here)")
        return
    dispatcher = dispatcher_or_fail(settings_or_fail())
    replayed = dispatcher.process(event_id, worker="cli")
    if replayed is None:
        fail(f"{event_id} was picked up by another worker first", code=1)
    say(
        f"{event_id}: {replayed.status.value}"
        + (f" ({replayed.last_error})" if replayed.last_error else "")
    )
    if replayed.status not in (Status.DONE, Status.IGNORED):
        raise typer.Exit(1)


# --- policy -------------------------------------------------------------------------------


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="The policy YAML file.")],
) -> None:
    """Validate a policy file: every error with its line; exit 1 if there is any."""
    from mlops_hooks.shared.domain.policy import PolicyError, load_policy

    try:
        policy = load_policy(file)
    except PolicyError as exc:
        for line in exc.errors:
            tell(line)
        raise typer.Exit(1) from None
    for warning in [*policy.warnings(), *_holdout_warnings(policy)]:
        tell(f"{file}: warning: {warning}")
    entries = ", ".join(e.name for e in policy.file.models) or "no model entries"
    say(f"{file}: ok ({entries})")


def _holdout_warnings(policy: Any) -> list[str]:
    """Holdouts this machine cannot reach (a missing local path, an s3:// object the
    configured credentials cannot see): the version would get a verdict of error."""
    from mlops_hooks.shared.adapters.table_reader import unreachable

    endpoint = settings_or_fail().aws_endpoint_url
    said: dict[str, str] = {}
    levels = [("defaults", "*"), *((f"model {e.name!r}", e.name) for e in policy.file.models)]
    for where, name in levels:
        uri = policy.for_model(name).holdout.uri
        if uri and uri not in said:
            problem = unreachable(uri, endpoint)
            if problem:
                said[uri] = (
                    f"{where}: holdout.uri cannot be read from here ({problem}); validation "
                    "would end with a verdict of error"
                )
    return list(said.values())


@policy_app.command("show")
def policy_show(
    model: Annotated[str | None, typer.Argument(help="Show what applies to this model.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(help="Policy file [MLOPS_HOOKS_POLICY, else ./mlops.yml, else built-in]."),
    ] = None,
) -> None:
    """Print the effective policy of MODEL (or the defaults) as YAML."""
    import yaml

    policy = _load_policy(file or settings_or_fail().resolved_policy_path)
    name = model or "*"
    entry = policy.entry_for(name) if model else None
    origin = f"entry {entry.name!r}" if entry else "defaults"
    say(f"# policy for {name}: {policy.source}, {origin}")
    from mlops_hooks.functions.serve import slack_configured
    from mlops_hooks.shared.domain.policy import how_approved

    effective_policy = policy.for_model(name)
    approval = how_approved(effective_policy.promotion, slack=slack_configured(settings_or_fail()))
    say(f"# promotion: {approval}")
    effective = effective_policy.model_dump(mode="json", exclude_none=True)
    print(yaml.safe_dump(effective, sort_keys=False), end="")


def _load_policy(path: Path | None) -> Any:
    from mlops_hooks.shared.domain.policy import PolicyError, load_policy

    try:
        return load_policy(path)
    except PolicyError as exc:
        fail(
            exc.errors[0]
            if len(exc.errors) == 1
            else f"{len(exc.errors)} errors; run `mlops-hooks policy check {path}`",
            code=1,
        )


# --- promotion: compare, rollback ------------------------------------------------------------

DatabricksOption = Annotated[
    bool, typer.Option("--databricks", help="The Databricks workspace (DATABRICKS_HOST).")
]


def _registry(settings: Settings, databricks: bool) -> Any:
    from mlops_hooks.shared.bootstrap import registries_from

    key = "databricks" if databricks else "mlflow"
    registries = registries_from(settings)
    if key not in registries:
        fail("set DATABRICKS_HOST" if databricks else "set MLFLOW_TRACKING_URI")
    try:
        return registries[key]
    except Exception as exc:
        fail(f"cannot reach the {key} registry: {one_line(exc)}", code=1)


@app.command()
def compare(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    challenger: Annotated[str, typer.Argument(help="The challenger's version.")],
    champion: Annotated[
        str | None, typer.Option(help="Champion version [the champion alias / stage].")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Holdout URI (path, s3://, Delta) [the policy's].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    databricks: DatabricksOption = False,
) -> None:
    """Compare CHALLENGER with the champion and print the decision, without acting on it."""
    import dataclasses

    from mlops_hooks.handlers.promotion_requested import decide
    from mlops_hooks.shared.adapters.table_reader import TableReader

    settings = settings_or_fail()
    policy = _load_policy(settings.resolved_policy_path).for_model(model)
    if data:
        policy = policy.model_copy(
            update={"holdout": policy.holdout.model_copy(update={"uri": data})}
        )
    registry = _registry(settings, databricks)
    holdout = policy.holdout
    try:
        champion = champion or registry.champion_version(
            model, alias=policy.aliases.champion, stage=policy.promotion.target_stage
        )
        if champion is not None and not holdout.uri:
            fail("no holdout: pass --data or set holdout.uri in the policy")
        tables = TableReader(endpoint_url=settings.aws_endpoint_url)
        challenger_mv = registry.get_version(model, challenger)
        decision, _ = decide(
            registry,
            policy,
            model,
            challenger,
            validated=challenger_mv.tags.get(tags.VALIDATION) == "passed",
            champion_version=champion,
            read=lambda: tables.read(
                str(holdout.uri), holdout.format, sample_rows=holdout.sample_rows
            ),
            challenger=challenger_mv,
        )
    except typer.Exit:
        raise
    except Exception as exc:
        fail(one_line(exc), code=1)
    if as_json:
        print(json.dumps({**dataclasses.asdict(decision), "verdict": decision.verdict}, indent=2))
        return
    if decision.primary is not None:
        table = Table(title=as_data(f"{model}: v{challenger} vs champion v{champion}"))
        for column in (
            "metric",
            "champion",
            "challenger",
            "delta",
            f"{decision.confidence:.0%} interval",
        ):
            table.add_column(column)
        rows = [(decision.primary, "primary")] + [
            (d, "guardrail") for d, _, _ in decision.guardrails
        ]
        for delta, role in rows:
            table.add_row(
                f"{delta.metric} ({role})",
                f"{delta.champion:.4f}",
                f"{delta.challenger:.4f}",
                f"{delta.delta:+.4f}",
                f"[{delta.low:+.4f}, {delta.high:+.4f}]",
            )
        out.print(table)
    say(f"decision: {decision.verdict} ({'; '.join(decision.reasons)})")


@app.command()
def rollback(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    databricks: DatabricksOption = False,
    workspace: WorkspaceOption = None,
    request_id: RequestOption = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Move the champion alias back to the previous champion (the two aliases swap).

    Recorded as an event (source cli, who ran it); a retried request is carried out once."""
    arguments = {"model": model, "registry": "databricks" if databricks else "mlflow"}
    _in_workspace(arguments, workspace, databricks=databricks)
    record = run_action(
        "rollback",
        arguments,
        failure=f"could not roll {model} back",
        request_id=request_id,
        timeout=timeout,
    )
    say((record.outcome or {}).get("summary") or "done")


@app.command()
def sweep(
    since: Annotated[
        str | None,
        typer.Option(
            help="Look from here instead of the last sweep's watermark: an ISO time "
            "(2026-12-01T08:00:00+00:00) or an age (90m, 6h, 2d). Promotion requests in force "
            "are raised again too (the ledger keeps each once)."
        ),
    ] = None,
    request_id: RequestOption = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Sweep the registries now: record what their webhooks should have said (versions
    created, challenger aliases, promote tags), with the webhooks' keys.

    Recorded as an event (source cli, who ran it)."""
    arguments = {"since": None if since is None else parse_since(since).isoformat()}
    record = run_action(
        "sweep", arguments, failure="could not sweep", request_id=request_id, timeout=timeout
    )
    say((record.outcome or {}).get("summary") or "done")


def parse_since(text: str) -> datetime:
    """An ISO time (naive: UTC) or an age before now: 90m, 6h, 2d."""
    ages = {"m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    if text[-1:] in ages and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * ages[text[-1]])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {text!r}: give an ISO time (2026-12-01T08:00) or an age (90m, 6h, 2d)")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- webhooks -----------------------------------------------------------------------------


@webhooks_app.command("register")
def webhooks_register(
    url: Annotated[
        str,
        typer.Option(
            help="Public URL of this service's webhook route, e.g. "
            "https://hooks.example.com/webhooks/mlflow"
        ),
    ],
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            help="Events to subscribe to (repeat the option). Default: the ones we act on.",
        ),
    ] = None,
    databricks: Annotated[
        bool,
        typer.Option(
            "--databricks",
            help="Register a Databricks workspace-registry webhook instead "
            "(DATABRICKS_HOST / DATABRICKS_TOKEN).",
        ),
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Databricks: only this model (default: registry-wide).")
    ] = None,
    name: Annotated[str, typer.Option(help="MLflow webhook name.")] = "mlops-hooks",
    workspace: WorkspaceOption = None,
    request_id: RequestOption = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Create the registry webhook with the configured secret (or update ours in place).

    Recorded as an event (source cli, who ran it); the secret is read from settings, never
    recorded."""
    if not url.startswith(("http://", "https://")):
        fail(f"--url must be an http(s) URL, got {url!r}")
    settings = settings_or_fail()  # what is missing is said before anything is recorded
    secret = "databricks_webhook_secret" if databricks else "mlflow_webhook_secret"
    if not settings.secret(secret):
        fail(f"set MLOPS_HOOKS_{secret.upper()} first: it signs every delivery")
    if not databricks and not settings.mlflow_tracking_uri:
        fail(
            "set MLFLOW_TRACKING_URI to the MLflow server "
            "(webhooks need a server with a SQL backend)"
        )
    arguments = {
        "registry": "databricks" if databricks else "mlflow",
        "url": url,
        "events": events or [],
        "name": name,
        "model": model,
    }
    _in_workspace(arguments, workspace, databricks=databricks)
    record = run_action(
        "register_webhook",
        arguments,
        failure="could not register the webhook",
        request_id=request_id,
        timeout=timeout,
    )
    say((record.outcome or {}).get("summary") or "done")
    workspace = arguments.get("workspace")
    if workspace and workspace not in settings.sweep_workspace_list:
        tell(  # MLflow 3.17 may announce this workspace's versions under another one's name
            f"add {workspace} to MLOPS_HOOKS_SWEEP_WORKSPACES of serve: MLflow can announce "
            "this workspace's new versions under another workspace (README: Sweep every "
            "workspace)",
            label="note: ",
            style="yellow",
        )


@webhooks_app.command("check")
def webhooks_check(
    url: Annotated[
        str | None,
        typer.Option(help="The webhook's URL [the webhook named --name]."),
    ] = None,
    name: Annotated[str, typer.Option(help="The MLflow webhook's name.")] = "mlops-hooks",
    workspace: WorkspaceOption = None,
) -> None:
    """Ask the MLflow server to send our webhook its test delivery and say, end to end,
    whether it arrived, was verified and recorded; the cause when not (a wrong secret, the
    server's encryption key, a URL it cannot reach, its scheme or private-address settings).

    Exit 0 only when the test delivery was recorded. Fails within
    MLOPS_HOOKS_SERVER_TIMEOUT_SECONDS (15) when the server does not answer."""
    from mlops_hooks.shared.adapters.webhook_registration import WebhookRegistrar
    from mlops_hooks.shared.domain.errors import MlopsHooksError

    settings = settings_or_fail()
    try:
        checked = WebhookRegistrar(settings).check(url=url, name=name, workspace=workspace)
    except MlopsHooksError as exc:
        fail(str(exc), code=1)
    say(f"webhook {checked.webhook}: {checked.said}")
    if not checked.ok:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
