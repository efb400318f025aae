"""approval: a reviewer's Approve / Reject on a promotion request (manual mode): a Slack
click, or `mlops-hooks approve|reject` on the command line (``source: cli``).

Only the model's reviewers may decide (``promotion.reviewers``, Slack user ids, for clicks;
``promotion.cli_reviewers``, OS user names, for the command line); anyone else gets a
private "not allowed" and nothing changes. A request is decided once: the first allowed
click takes the ledger guard ``decision:<request id>`` and every later click (a double click,
another reviewer) is told who decided. Slack's retries of one click are one event already (the
edge keys it by the click). The decision is carried out as in auto mode (OSS: aliases;
workspace registry: approve / reject the transition request), then the request's message is
updated to say who decided and when (a command-line decision updates the Slack request too,
where one was posted with the bot token).
"""

from __future__ import annotations

import logging
from typing import Any

from mlops_hooks.handlers.common import model_version_of, now_iso
from mlops_hooks.handlers.promotion_requested import AWAITING_APPROVAL, carry_out, target_stage
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.events import Event, EventKind, Source
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.ports.notifier import Answer
from mlops_hooks.shared.ports.outcome import Outcome

SECTION = "approval"
log = logging.getLogger("mlops_hooks.approval")


def refuse_click(
    *,
    user: str,
    approve: bool,
    reviewers: list[str],
    request_status: Status,
    request_result: str | None,
    verdict: str | None,
    model: str,
    cli: bool = False,
) -> tuple[str, str] | None:
    """Pure: why this click changes nothing ((result, what to tell the clicker)), or None."""
    name = model.rsplit(" v", 1)[0]
    if user not in reviewers:
        listed = "promotion.cli_reviewers" if cli else "promotion.reviewers"
        return (
            "not_allowed",
            f"Not allowed: {user if cli else f'<@{user}>'} is not a reviewer of {name} "
            f"({listed} in the policy). Nothing changed.",
        )
    asked = request_result if request_status is Status.DONE else None
    if asked != AWAITING_APPROVAL:
        return (
            "not_awaiting",
            f"{model} is not awaiting approval (its request is "
            f"{request_status.value}{f': {asked}' if asked else ''}). Nothing changed.",
        )
    if approve and verdict != "passed":
        return "not_validated", f"{model} has not passed validation; it cannot be approved."
    return None


def handle(event: Event, deps: Deps) -> Outcome:
    click = event.payload
    request_id, decision, user = click["request_id"], click["decision"], click["user_id"]
    reply = _Replier(deps, click)

    request = deps.events.get(request_id)
    if request is None or request.kind is not EventKind.PROMOTION_REQUESTED:
        return reply.refuse("unknown_request", f"No promotion request {request_id} is known here.")
    name, version, policy, registry = model_version_of(request.event, deps)
    approve = decision == "approve"
    cli = event.source is Source.CLI
    # load only what the decision needs: the verdict matters only to an approval
    verdict = registry.get_version(name, version).tags.get(tags.VALIDATION) if approve else None
    refusal = refuse_click(
        user=user,
        approve=approve,
        reviewers=policy.promotion.cli_reviewers if cli else policy.promotion.reviewers,
        request_status=request.status,
        request_result=(request.outcome or {}).get("result"),
        verdict=verdict,
        model=f"{name} v{version}",
        cli=cli,
    )
    if refusal is not None:
        return reply.refuse(*refusal)

    hold = deps.guards.acquire(f"decision:{request_id}", event.id, now=deps.clock.now())
    if not hold.held_by(event.id):
        first = deps.events.get(hold.holder)
        said = first.event.reason if first is not None else "decided"
        return reply.refuse("already_decided", f"Already decided: {said}. Nothing changed.")

    at = now_iso(deps)
    verb = "approved" if approve else "rejected"
    who = user if cli else f"{click.get('user_name') or user} ({user})"
    where = "from the command line" if cli else "on Slack"
    why = f": {click['reason']}" if click.get("reason") else ""
    comment = f"{verb.capitalize()} by {who} {where} at {at}{why} (promotion request {request_id})"
    recommendation = (request.outcome or {}).get("data", {}).get("recommendation")
    registry.write_report(
        name,
        version,
        SECTION,
        deps.renderer.approval_report(
            approved=approve, comment=comment, recommendation=recommendation
        ),
    )
    registry.set_tags(name, version, {tags.APPROVAL: verb, tags.APPROVAL_BY: user})
    done = carry_out(
        registry,
        policy,
        name,
        version,
        approve,
        stage=target_stage(request.event, policy),
        comment=comment,
    )
    mark = ":white_check_mark:" if approve else ":x:"
    if cli:  # the Slack request (if any) says so too, its buttons gone
        posted = (request.outcome or {}).get("data", {}).get("posted")
        text = f"{mark} *{verb.capitalize()}* by {user} {where} at {at}{why}: {done}"
        answered = _update_request(deps, posted, text)
    else:
        answered = reply.tell(f"{mark} *{verb.capitalize()}* by <@{user}> at {at}: {done}")
    return Outcome(
        result=verb,
        summary=done,
        data={"request": request_id, "by": user, "at": at, "message_updated": answered},
    )


def _update_request(deps: Deps, posted: Any, text: str) -> bool:
    """A failed update never undoes a decision: the audit trail has it."""
    try:
        return deps.notifier.update_request(posted, text)
    except Exception as exc:
        log.warning("could not update the approval request: %s", exc)
        return False


class _Replier:
    """Answers on the click's return address; an answer that fails never undoes a decision."""

    def __init__(self, deps: Deps, click: dict[str, Any]) -> None:
        self.deps = deps
        self.reply_to = click.get("response_url")
        self.original = click.get("message_blocks") or []

    def refuse(self, result: str, text: str) -> Outcome:
        self._send(text, private=True)
        return Outcome(result=result, summary=text)

    def tell(self, text: str) -> bool:
        return self._send(text, private=False)

    def _send(self, text: str, *, private: bool) -> bool:
        if not self.reply_to:
            return False
        try:
            self.deps.notifier.answer(Answer(self.reply_to, text, private, self.original))
        except Exception as exc:  # Slack's response_url lives 30 minutes; the audit has it
            log.warning("could not answer the reviewer: %s", exc)
            return False
        return True
