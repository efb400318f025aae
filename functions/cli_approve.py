"""`mlops-hooks approve|reject MODEL VERSION`: a reviewer's decision without Slack.

The decision is an ``approval`` event (``source: cli``) on the version's promotion request,
handled exactly like a Slack click (handlers/approval.py): only the policy's
``promotion.cli_reviewers`` may decide, a request is decided once (a second decision is told
who decided), and the Slack request, if one was posted with the bot token, is updated.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from mlops_hooks.functions.cli_common import (
    carry_out_here,
    dispatcher_or_fail,
    fail,
    reviewer,
    say,
    settings_or_fail,
)

if TYPE_CHECKING:
    from mlops_hooks.shared.ports.ledger import EventRecord

# the outcomes that change nothing: said, and the command exits 1
REFUSALS = frozenset(
    {"not_allowed", "not_awaiting", "not_validated", "already_decided", "unknown_request"}
)
SCAN = 2000  # the newest promotion requests looked through for this version's

ModelArgument = Annotated[str, typer.Argument(help="Registered model name.")]
VersionArgument = Annotated[str, typer.Argument(help="The version awaiting approval.")]
ReasonOption = Annotated[
    str | None, typer.Option(help="Why: kept in the audit trail, the report and on Slack.")
]
TimeoutOption = Annotated[float, typer.Option(min=1, help="Seconds to wait for the outcome.")]


def approve(
    model: ModelArgument,
    version: VersionArgument,
    reason: ReasonOption = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Approve the promotion of MODEL VERSION (manual mode), as a listed CLI reviewer
    (promotion.cli_reviewers: your OS user, or MLOPS_HOOKS_REVIEWER on a shared host)."""
    _decide(model, version, "approve", reason, timeout)


def reject(
    model: ModelArgument,
    version: VersionArgument,
    reason: ReasonOption = None,
    timeout: TimeoutOption = 120.0,
) -> None:
    """Reject the promotion of MODEL VERSION (manual mode): the champion stays."""
    _decide(model, version, "reject", reason, timeout)


def _decide(model: str, version: str, decision: str, reason: str | None, timeout: float) -> None:
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import Source

    request = _request_for(model, version)
    user = reviewer()
    event = events.approval(
        f"cli:{request.id}:{user}:{uuid.uuid4().hex}",
        source=Source.CLI,
        reason=f"{decision} by {user} (command line)",
        payload={
            "request_id": request.id,
            "decision": decision,
            "user_id": user,
            "user_name": user,
            "reason": reason or "",
        },
    )
    record = carry_out_here(
        event, what=decision, failure=f"could not {decision} {model} v{version}", timeout=timeout
    )
    outcome = record.outcome or {}
    say(outcome.get("summary") or "done")
    if outcome.get("result") in REFUSALS:
        raise typer.Exit(1)


def _request_for(model: str, version: str) -> EventRecord:
    """The version's promotion request: the one awaiting approval, else the newest."""
    from mlops_hooks.shared.domain.events import EventKind

    settings = settings_or_fail()
    ledger = dispatcher_or_fail(settings).ledger
    try:
        found = [
            r
            for r in ledger.list(kind=EventKind.PROMOTION_REQUESTED, limit=SCAN)
            if r.model == model and r.version == str(version)
        ]
    finally:
        ledger.close()
    if not found:
        fail(
            f"no promotion request for {model} v{version} in the ledger "
            f"({settings.resolved_ledger_url}); `mlops-hooks events list --kind "
            "promotion_requested` lists them",
            code=1,
        )
    waiting = [r for r in found if (r.outcome or {}).get("result") == "awaiting_approval"]
    return (waiting or found)[0]
