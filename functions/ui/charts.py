"""The model page's charts as Vega-Lite specifications (pure: frames in, dicts out).

Vega-Lite draws them in the browser from the vendored scripts under static/vendor (vega 6.4.0,
vega-lite 6.4.3, vega-embed 7.3.0; BSD-3-Clause, University of Washington Interactive Data
Lab): no CDN, and with ``ast: true`` no eval, so the pages' CSP needs no 'unsafe-eval'."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an id, never fetched
WIDTH = "container"


def _base(title: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": 240,
        "data": {"values": values},
    }


def drift_chart(monitoring: pd.DataFrame, *, warn: float, drift: float) -> dict[str, Any]:
    """PSI per feature per check, with the warn and drift lines (the worst features first in
    the legend)."""
    frame = monitoring[["checked_at", "feature", "psi"]].dropna()
    values = [
        {"checked_at": str(r.checked_at), "feature": str(r.feature), "psi": float(r.psi)}
        for r in frame.itertuples()
    ]
    worst = frame.groupby("feature")["psi"].max().sort_values(ascending=False).index
    spec = _base("Data drift: PSI per feature at each check", values)
    lines = {
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "checked_at", "type": "temporal", "title": "checked at"},
            "y": {"field": "psi", "type": "quantitative", "title": "PSI"},
            "color": {"field": "feature", "type": "nominal", "sort": [str(f) for f in worst]},
            "tooltip": [{"field": "feature"}, {"field": "psi", "format": ".3f"}],
        },
    }
    limits = {
        "data": {"values": [{"psi": warn, "rule": "warn"}, {"psi": drift, "rule": "drift"}]},
        "mark": {"type": "rule", "strokeDash": [4, 4]},
        "encoding": {"y": {"field": "psi", "type": "quantitative"}},
    }
    spec["layer"] = [lines, limits]
    return spec


def live_chart(live: pd.DataFrame, metric: str, *, floor: float | None) -> dict[str, Any]:
    """The metric per version per score date (shadow and served alike), with the floor."""
    frame = live[["score_date", "version", "arm", "labelled_rows", metric]].dropna()
    values = [
        {
            "score_date": str(r["score_date"]),
            "version": f"v{r['version']}",
            "arm": str(r["arm"]),
            "labelled": int(r["labelled_rows"]),
            metric: float(r[metric]),
        }
        for r in frame.to_dict(orient="records")
    ]
    spec = _base(f"Live performance: {metric} per version and score date", values)
    lines = {
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {
                "field": "score_date",
                "type": "temporal",
                "timeUnit": "yearmonthdate",
                "title": "score date",
                "axis": {"tickCount": "day", "format": "%b %d"},  # a tick a day, once
            },
            "y": {"field": metric, "type": "quantitative", "scale": {"zero": False}},
            "color": {"field": "version", "type": "nominal"},
            "tooltip": [
                {"field": "version"},
                {"field": "arm"},
                {"field": metric, "format": ".4f"},
                {"field": "labelled"},
            ],
        },
    }
    spec["layer"] = [lines]
    if floor is not None:
        spec["layer"].append(
            {
                "data": {"values": [{metric: floor}]},
                "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#cf222e"},
                "encoding": {"y": {"field": metric, "type": "quantitative"}},
            }
        )
    return spec


def as_script_json(spec: dict[str, Any]) -> str:
    """The spec for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` as
    JSON escapes, so no value (a feature name, a version) can end the block or open a
    comment in it; JSON.parse reads them back as they were."""
    import json

    text = json.dumps(spec, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
