"""`mlops-hooks jobs ...`: the job runs the ledger knows, their logs, and a reconcile now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from mlops_hooks.functions.cli_common import (
    WideOption,
    dispatcher_or_fail,
    fail,
    out,
    print_rows,
    run_action,
    say,
    settings_or_fail,
)

jobs_app = typer.Typer(
    help="Job runs (train, batch_inference) launched by events.", no_args_is_help=True
)


@jobs_app.command("list")
def jobs_list(
    unfinished: Annotated[bool, typer.Option(help="Only pending or running ones.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: WideOption = False,
) -> None:
    """List job runs, newest first."""
    runs = dispatcher_or_fail(settings_or_fail()).ledger.list_runs(
        unfinished=unfinished, limit=limit
    )
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return
    rows = [
        [
            r.run_id,
            r.job,
            r.state.value,
            datetime.fromtimestamp(r.started_at, UTC).strftime("%m-%d %H:%M:%S"),
            r.backend,
            r.event_id or "",
            r.url or r.log_path or "",
        ]
        for r in runs
    ]
    headers = ["run", "job", "state", "started (UTC)", "backend", "event", "where"]
    print_rows(headers, rows, keys=4, wide=wide, console=out)
    if not runs:
        out.print("no job runs yet")


@jobs_app.command("logs")
def jobs_logs(
    run_id: Annotated[str, typer.Argument(help="Run id (see `jobs list`).")],
    tail: Annotated[int | None, typer.Option(min=1, help="Only the last N lines.")] = None,
) -> None:
    """Print a local run's log (a Databricks run: where to read it)."""
    run = dispatcher_or_fail(settings_or_fail()).ledger.get_run(run_id)
    if run is None:
        fail(f"no job run {run_id}; see `mlops-hooks jobs list`")
    if not run.log_path:
        say(f"{run.backend} run {run_id}: its logs are at {run.url}")
        return
    from mlops_hooks.functions.run_logs import log_tail

    text = log_tail(run.log_path, tail)
    if text is None:
        fail(f"the log of {run_id} is gone: {run.log_path}")
    print(text.rstrip("\n"))


@jobs_app.command("reconcile")
def jobs_reconcile(
    request_id: Annotated[
        str | None, typer.Option(help="Names this request: the same id again is a retry.")
    ] = None,
) -> None:
    """Refresh the state of unfinished runs now and notify failures (what the tick does).

    Recorded as an event (source cli, who ran it)."""
    record = run_action(
        "reconcile", {}, failure="could not reconcile the job runs", request_id=request_id
    )
    say((record.outcome or {}).get("summary") or "done")
