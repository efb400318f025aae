"""`mlops-hooks drift MODEL`: the latest drift check of a model, from its monitoring table."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mlops_hooks.functions.cli_common import as_data, fail, out, say, settings_or_fail


def drift(
    model: Annotated[str, typer.Argument(help="The registered model.")],
    window: Annotated[
        str | None,
        typer.Option(help="The scoring window's last day (YYYY-MM-DD); default: the latest."),
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="Monitoring table [<tables uri>/<model>/monitoring].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the per-feature drift table of MODEL's latest check (or of one window)."""
    from mlops_hooks.shared.adapters.table_reader import TableReader
    from mlops_hooks.shared.domain.errors import TableError

    settings = settings_or_fail()
    uri = table or settings.table_uri(model, "monitoring")
    try:
        rows = TableReader(endpoint_url=settings.aws_endpoint_url).read(uri, "delta")
    except TableError as exc:
        fail(f"no drift checks of {model} yet ({exc})")
    if window:
        rows = rows[rows["window_end"] == window]
        if rows.empty:
            fail(f"no drift check of {model} for the window ending {window}")
    latest = rows[rows["checked_at"] == rows["checked_at"].max()].sort_values(
        "psi", ascending=False
    )
    if as_json:
        print(json.dumps(latest.to_dict(orient="records"), default=str, indent=2))
        return
    first = latest.iloc[0]
    say(
        f"{model} v{first['model_version']}: scored {first['window_start']} to "
        f"{first['window_end']} against its training reference; checked {first['checked_at']}"
    )
    grid = Table(box=None, pad_edge=False)
    for name in ("feature", "kind", "PSI", "status", "KS", "Wasserstein", "JS", "rows"):
        grid.add_column(
            name, justify="right" if name not in ("feature", "kind", "status") else "left"
        )
    colour = {"drift": "red", "warn": "yellow", "ok": "green"}

    def number(value: object) -> str:
        return "" if value is None or value != value else f"{value:.3f}"  # NaN: not measured

    for r in latest.itertuples():
        grid.add_row(
            as_data(r.feature),
            as_data(r.kind),
            number(r.psi),
            Text(str(r.status), style=colour.get(r.status, "")),
            number(r.ks),
            number(r.wasserstein),
            number(r.js_distance),
            f"{r.current_rows:,}",
        )
    out.print(grid)
    drifted = latest[latest["status"] == "drift"]["feature"].tolist()
    say(f"drifted: {', '.join(drifted) or 'none'}")
