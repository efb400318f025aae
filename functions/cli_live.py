"""`mlops-hooks live MODEL`: each version's life on live data, day by day, from the model's
live_metrics table (the newest computation of each day: late labels recompute it)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mlops_hooks.functions.cli_common import WideOption, fail, out, print_rows, settings_or_fail


def live(
    model: Annotated[str, typer.Argument(help="The registered model.")],
    days: Annotated[int, typer.Option(min=1, help="The last N score dates.")] = 7,
    table: Annotated[
        str | None, typer.Option(help="Live metrics table [<tables uri>/<model>/live_metrics].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wide: WideOption = False,
) -> None:
    """Per version and score date: rows scored, rows served, labelled rows, the policy's
    metrics on them, and the version's arm (champion, a split's arm, or shadow)."""
    from mlops_hooks.shared.adapters.table_reader import TableReader
    from mlops_hooks.shared.domain.errors import TableError
    from mlops_hooks.shared.domain.live import newest_live_metrics

    settings = settings_or_fail()
    uri = table or settings.table_uri(model, "live_metrics")
    try:
        rows = TableReader(endpoint_url=settings.aws_endpoint_url).read(uri, "delta")
    except TableError as exc:
        fail(f"no live metrics of {model} yet: no labels joined ({exc})", code=1)
    newest = newest_live_metrics(rows)
    kept = sorted(newest["score_date"].unique())[-days:]
    shown = newest[newest["score_date"].isin(kept)].sort_values(["score_date", "version"])
    fixed = {"model", "score_date", "version", "arm", "rows", "served_rows", "labelled_rows"}
    metrics = [c for c in shown.columns if c not in fixed | {"computed_at"}]
    if as_json:
        records = shown.drop(columns=["computed_at"]).to_dict(orient="records")
        print(json.dumps(records, default=str, indent=2))
        return
    headers = ["date", "version", "arm", "labelled", "rows", "served", *metrics]
    table_rows = [
        [
            str(r["score_date"]),
            f"v{r['version']}",
            str(r["arm"]),
            f"{int(r['labelled_rows']):,}",
            f"{int(r['rows']):,}",
            f"{int(r['served_rows']):,}",
            *("" if r[m] != r[m] else f"{r[m]:.4f}" for m in metrics),  # NaN: not computable
        ]
        for r in shown.to_dict(orient="records")
    ]
    print_rows(headers, table_rows, keys=4, wide=wide, console=out)
