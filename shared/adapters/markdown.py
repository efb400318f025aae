"""Reports written back to the registry.

OSS MLflow has no comments API, so a report lives in a *managed section* of the model
version's description, between fixed HTML-comment markers (invisible in the MLflow UI's
markdown). The author's own text is kept; a re-run replaces the section instead of adding one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.comparison import Decision, MetricDelta
    from mlops_hooks.shared.domain.validation import Validation


def _markers(section: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z0-9_-]+", section):
        raise ValueError(f"section name {section!r}: use lowercase letters, digits, - and _")
    return (f"<!-- mlops-hooks:{section}:begin -->", f"<!-- mlops-hooks:{section}:end -->")


def replace_section(description: str | None, section: str, markdown: str) -> str:
    """``description`` with ``section`` set to ``markdown`` (appended the first time)."""
    begin, end = _markers(section)
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = description or ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return f"{text.rstrip()}\n\n{block}" if text.strip() else block


def read_section(description: str | None, section: str) -> str | None:
    begin, end = _markers(section)
    match = re.search(
        re.escape(begin) + r"\n?(.*?)\n?" + re.escape(end), description or "", re.DOTALL
    )
    return match.group(1) if match else None


# --- the validation report ------------------------------------------------------------------

_MARK = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "skipped": "⏭️ skipped",
    "error": "⚠️ error (not the model's fault)",
}


def validation_markdown(
    validation: Validation,
    *,
    validated_at: str,
    policy_source: str,
    event_id: str,
    links: list[tuple[str, str | None]],
) -> str:
    """The report a model version carries: verdict, a table of checks, the data, links."""
    failed = validation.failed
    verdict = _MARK[validation.verdict] + (
        f": {validation.config_error}"
        if validation.config_error
        else f": {', '.join(failed)}"
        if failed
        else ""
    )
    rows = [
        "| check | result | numbers | threshold | reason |",
        "|---|---|---|---|---|",
        *(
            f"| `{c.name}` | {_MARK[c.status]} | {_cell(_numbers(c.numbers))} "
            f"| {_cell(c.threshold or '—')} | {_cell(c.reason)} |"
            for c in validation.checks
        ),
    ]
    linked = " · ".join(f"[{label}]({url})" for label, url in links if url)
    evaluated = _evaluation_line(validation)
    return "\n".join(
        [
            f"### mlops-hooks validation: {verdict}",
            "",
            f"`{validation.model}` version {validation.version} · {validated_at} · "
            f"policy `{policy_source}` · {validation.seconds:.1f} s · event `{event_id}`",
            "",
            *rows,
            "",
            f"**Data:** {validation.data}",
            *(["", evaluated] if evaluated else []),
            *(["", f"**Links:** {linked}"] if linked else []),
        ]
    )


def _evaluation_line(validation: Validation) -> str:
    """MLflow's evaluation run: being written (it comes after the verdict), or its metrics."""
    if validation.evaluate_later is not None:
        return (
            "**mlflow.models.evaluate:** running; its evaluation run (metrics and plots) is "
            "linked here when written."
        )
    if validation.evaluation is None:
        return ""
    return "**mlflow.models.evaluate:** " + _numbers(validation.evaluation.metrics)


def _numbers(numbers: dict[str, object]) -> str:
    parts = (f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in numbers.items())
    return ", ".join(parts)


def _cell(text: str) -> str:
    """Table-cell safe: no pipes or newlines to break the markdown table."""
    return text.replace("|", "\\|").replace("\n", " ") or "—"


# --- the comparison (promotion) report --------------------------------------------------------


def comparison_markdown(
    decision: Decision,
    *,
    model: str,
    decided_at: str,
    holdout: str,
    action: str,
    event_id: str,
    image_url: str | None = None,
    links: list[tuple[str, str | None]] | None = None,
) -> str:
    """Champion vs challenger: each metric with its delta and interval, the decision and why."""
    mark = "✅ promote" if decision.promote else "❌ reject"
    champion = f"v{decision.champion_version}" if decision.champion_version else "none"
    lines = [
        f"### mlops-hooks promotion: {mark} v{decision.challenger_version}",
        "",
        f"`{model}` · challenger v{decision.challenger_version} vs champion {champion} · "
        f"{decided_at} · event `{event_id}`",
        "",
    ]
    table = comparison_table(decision)
    if table:
        header, *rows = table
        lines += [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows),
            "",
            f"Paired bootstrap: {decision.resamples:,} resamples of the {decision.rows:,} "
            f"holdout rows (seed {decision.seed}); {holdout}.",
            "",
        ]
    lines += [f"**Decision:** {decision.verdict} — " + "; ".join(decision.reasons), ""]
    lines += [f"**Action:** {action}"]
    if image_url:
        lines += ["", f"![champion vs challenger]({image_url})"]
    linked = " · ".join(f"[{label}]({url})" for label, url in links or [] if url)
    if linked:
        lines += ["", f"**Links:** {linked}"]
    return "\n".join(lines)


def comparison_table(decision: Decision) -> list[list[str]]:
    """Header row, then the primary metric and each guardrail; empty with no champion.

    One table for the registry report and the Slack approval request.
    """
    if decision.primary is None:
        return []
    champion = f"v{decision.champion_version}" if decision.champion_version else "none"
    header = [
        "metric",
        f"champion {champion}",
        f"challenger v{decision.challenger_version}",
        "delta",
        f"{decision.confidence:.0%} interval",
        "rule",
    ]
    rows = [
        _delta_row(
            decision.primary, "primary", f"improvement ≥ {decision.min_improvement:+g}", True
        )
    ]
    rows += [
        _delta_row(d, "guardrail", f"regression ≤ {allowance:g}", ok)
        for d, allowance, ok in decision.guardrails
    ]
    return [header, *rows]


def _delta_row(delta: MetricDelta, role: str, rule: str, ok: bool) -> list[str]:
    mark = "" if role == "primary" else (" ✅" if ok else " ❌")
    return [
        f"{delta.metric} ({role})",
        f"{delta.champion:.4f}",
        f"{delta.challenger:.4f}",
        f"{delta.delta:+.4f}",
        f"[{delta.low:+.4f}, {delta.high:+.4f}]",
        rule + mark,
    ]


def approval_markdown(*, approved: bool, comment: str, recommendation: object) -> str:
    """What a reviewer decided, on the version (section ``approval``)."""
    verb = "approved" if approved else "rejected"
    return (
        f"### mlops-hooks approval: {'✅' if approved else '❌'} {verb}\n\n{comment}; "
        f"recommendation was {recommendation}."
    )
