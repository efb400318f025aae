"""The demo's timeline (rows for the terminal) and its HTML report (events, verdicts,
comparison tables, plots), written from what the stack recorded: the ledger's events, the
registry's reports and artifacts, the monitoring table and the Slack messages."""

from __future__ import annotations

import base64
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
    measured: str = "",
) -> Path:
    """The report, from the /ui pages' own templates: the registry's reports rendered (tables
    as tables, marks as SVG), every value escaped, the plots inline; one file, no server."""
    from mlops_hooks.functions.ui.render import sections
    from mlops_hooks.functions.ui.templating import environment

    page = (
        environment()
        .get_template("demo_report.html")
        .render(
            static=True,
            failed=failed,
            steps=steps,
            timeline_headers=TIMELINE,
            timeline=timeline_rows,
            versions=[{**v, "reports": sections(v["description"])} for v in versions],
            drift_rows=drift_rows,
            drift_keys=["feature", "kind", "psi", "status", "ks", "wasserstein", "js_distance"],
            images=[(title, base64.b64encode(png).decode()) for title, png in images],
            slack=slack,
            measured=measured,
        )
    )
    path.write_text(page, encoding="utf-8")
    return path
