"""The demo's timeline (rows for the terminal) and its HTML report (events, verdicts,
comparison tables, plots), written from what the stack recorded: the ledger's events, the
registry's reports and artifacts, the monitoring table and the Slack messages."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path
from typing import Any

TIMELINE = ["at", "event", "status", "seconds", "subject", "handler outcome"]


def timeline(events: list[dict[str, Any]]) -> list[list[str]]:
    """Every event, oldest first: when, kind, status, seconds to done, subject, handler
    outcome (the columns of ``TIMELINE``)."""
    rows = []
    start = min((_at(e["received_at"]) for e in events), default=None)
    for e in sorted(events, key=lambda e: e["received_at"]):
        event, outcome = e["event"], e.get("outcome") or {}
        subject = (
            event.get("model")
            or event.get("object_key")
            or event.get("task")
            or event["reason"]
            or ""
        )
        if event.get("version"):
            subject += f" v{event['version']}"
        if event.get("task") and event.get("model"):
            subject = f"{event['task']} {event['model']}"
        took = ""
        if e.get("finished_at"):
            took = f"{(_at(e['finished_at']) - _at(e['received_at'])).total_seconds():.1f}"
        rows.append(
            [
                f"+{(_at(e['received_at']) - start).total_seconds():.0f} s" if start else "",
                e["kind"],
                e["status"],
                took,
                subject,
                outcome.get("result", e.get("last_error") or ""),
            ]
        )
    return rows


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def write_html(
    path: Path,
    *,
    steps: list[Any],
    timeline_rows: list[list[str]],
    versions: list[dict[str, Any]],
    images: list[tuple[str, bytes]],
    drift_rows: list[dict[str, Any]],
    slack: list[str],
    failed: str | None,
) -> Path:
    e = html.escape
    parts = [
        "<!doctype html><meta charset=utf-8><title>mlops-hooks demo</title>",
        "<style>body{font:14px system-ui;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
        "pre{background:#f6f6f6;padding:1em;overflow:auto}.ok{color:#080}.bad{color:#b00}</style>",
        "<h1>mlops-hooks demo</h1>",
        f"<p class={'bad' if failed else 'ok'}>"
        f"<b>{e(failed or 'every step happened as expected')}</b></p>",
        "<h2>Steps</h2><table><tr><th>step</th><th>seconds</th><th>what happened</th></tr>",
        *(
            f"<tr><td>{e(s.name)}</td><td>{s.seconds:.0f}</td><td>{e(s.detail)}</td></tr>"
            for s in steps
        ),
        "</table><h2>Timeline (the ledger)</h2><table><tr>",
        *(f"<th>{h}</th>" for h in TIMELINE),
        "</tr>",
        *("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in timeline_rows),
        "</table><h2>Model versions: the reports they carry</h2>",
    ]
    for v in versions:
        parts.append(f"<h3>churn v{e(v['version'])} {e(' '.join(v['aliases']))}</h3>")
        parts.append(f"<pre>{e(v['description'])}</pre>")
    if drift_rows:
        parts.append("<h2>Drift check (monitoring table)</h2><table><tr>")
        keys = ["feature", "kind", "psi", "status", "ks", "wasserstein", "js_distance"]
        parts += [f"<th>{k}</th>" for k in keys] + ["</tr>"]
        for row in drift_rows:
            cells = [
                f"{row[k]:.3f}" if isinstance(row[k], float) and row[k] == row[k] else str(row[k])
                for k in keys
            ]
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    if images:
        parts.append("<h2>Plots</h2>")
        for title, png in images:
            data = base64.b64encode(png).decode()
            parts.append(
                f"<h3>{e(title)}</h3><img alt='{e(title)}' src='data:image/png;base64,{data}'>"
            )
    parts.append("<h2>Slack (the local sink)</h2><ul>")
    parts += [f"<li>{e(m)}</li>" for m in slack]
    parts.append("</ul>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
