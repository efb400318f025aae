"""`mlops-hooks jobs ...`: the job runs the ledger knows, their logs, and a reconcile now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlops_hooks.functions.cli_common import (
    as_data,
    dispatcher_or_fail,
    fail,
    out,
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
) -> None:
    """List job runs, newest first."""
    runs = dispatcher_or_fail(settings_or_fail()).ledger.list_runs(
        unfinished=unfinished, limit=limit
    )
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("run", no_wrap=True)
    for name in ("job", "backend", "state", "started (UTC)", "event"):
        table.add_column(name, no_wrap=True)
    table.add_column("where", overflow="fold")
    for r in runs:
        started = datetime.fromtimestamp(r.started_at, UTC).strftime("%m-%d %H:%M:%S")
        table.add_row(
            *(
                as_data(cell)
                for cell in (
                    r.run_id,
                    r.job,
                    r.backend,
                    r.state.value,
                    started,
                    r.event_id or "",
                    r.url or r.log_path or "",
                )
            )
        )
    out.print(table)
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
    path = Path(run.log_path)
    if not path.exists():
        fail(f"the log of {run_id} is gone: {path}")
    lines = path.read_text(errors="replace").splitlines()
    print("\n".join(lines[-tail:] if tail else lines))


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
