"""Registry reports (markdown) as HTML, and the marks every browser can draw.

markdown-it-py (CommonMark + tables) with raw HTML off: a report is data, so whatever HTML a
description holds is shown as text. The reports' emoji marks are replaced by inline SVG: an
emoji needs a font the machine may not have (an empty square)."""

from __future__ import annotations

from functools import cache
from typing import Any

# the report sections the handlers write, in the order a reader wants them
SECTIONS = (
    ("validation", "Validation"),
    ("promotion", "Comparison on the holdout"),
    ("promotion-live", "Comparison on live data"),
    ("approval", "Approval"),
)

_PATHS = {  # 16 x 16 strokes: a tick, a cross, a skip arrow, a warning sign
    "ok": "M3 8.5l3 3 7-7",
    "bad": "M4 4l8 8M12 4l-8 8",
    "skip": "M3 4l5 4-5 4M9 4l5 4-5 4",
    "warn": "M8 2l6.5 12h-13zM8 6.5v3.5M8 12v.5",
    "wait": "M8 2a6 6 0 1 0 .01 0M8 5v3.5l2.5 1.5",
}
_EMOJI = {"✅": "ok", "❌": "bad", "⏭️": "skip", "⏭": "skip", "⚠️": "warn", "⚠": "warn"}
# a handler's result -> its mark
_RESULTS = {
    "passed": "ok",
    "promote": "ok",
    "approved": "ok",
    "no_drift": "ok",
    "measured": "ok",
    "done": "ok",
    "failed": "bad",
    "reject": "bad",
    "rejected": "bad",
    "dead": "bad",
    "drifted": "warn",
    "degraded": "warn",
    "error": "warn",
    "awaiting_approval": "wait",
    "live_trial": "wait",
    "received": "wait",
    "running": "wait",
}


def mark(kind: str, label: str = "") -> Any:
    """An inline SVG mark (with its meaning as text for screen readers and copy-paste), as
    markup: the label is escaped by ``Markup.format``."""
    from markupsafe import Markup

    return Markup(
        '<svg class="mark {}" viewBox="0 0 16 16" width="16" height="16" role="img" '
        'aria-label="{}"><path d="{}"/></svg>'
    ).format(kind if kind in _PATHS else "skip", label or kind, _PATHS.get(kind, _PATHS["skip"]))


def result_mark(result: str | None) -> Any:
    return mark(_RESULTS.get(str(result), "skip"), str(result)) if result else ""


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def report_html(markdown: str) -> Any:
    """A report section as HTML: tables as tables, raw HTML as text, emoji as SVG marks.

    Markup because markdown-it made it with raw HTML off (a description's own tags come out
    escaped), and the marks are ours."""
    from markupsafe import Markup

    html = _markdown().render(markdown)
    for emoji, kind in _EMOJI.items():
        html = html.replace(emoji, str(mark(kind)))
    html = html.replace("<table>", '<div class="scroll"><table>')
    return Markup(html.replace("</table>", "</table></div>"))  # noqa: S704 - escaped above


def sections(description: str | None) -> list[tuple[str, str]]:
    """The version's report sections that are present, as (title, HTML)."""
    from mlops_hooks.shared.adapters.markdown import read_section

    found = []
    for name, title in SECTIONS:
        text = read_section(description, name)
        if text:
            found.append((title, report_html(text)))
    return found
