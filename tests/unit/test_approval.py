"""The approval handler over port fakes: who may decide, once, and what the decision does.

Clicks are built as Slack sends them and parsed by the edge's own parser.
"""

from __future__ import annotations

from mlops_hooks.functions.slack_actions import event_from_slack
from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.settings import Settings
from tests.support.promotion import run
from tests.support.slack import click_body

REPLY = "https://hooks.slack.test/actions/T1/1/xyz"
SHOWN = [
    {"type": "header", "block_id": "h", "text": {"type": "plain_text", "text": "Approve?"}},
    {"type": "actions", "block_id": "mlops_approval", "elements": []},
]


def click(dispatcher, request_id: str, user: str, decision: str = "approve", ts: str = "1.1"):
    body = click_body(request_id, user, decision, action_ts=ts, response_url=REPLY, blocks=SHOWN)
    recorded = dispatcher.submit(event_from_slack(body, "", Settings()))
    return recorded, dispatcher.process(recorded.record.id)


def test_a_listed_reviewer_approves_and_the_message_says_who_and_when(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, notifier = make("manual")
    request = run(dispatcher, "2")
    _, record = click(dispatcher, request.id, "U_ALICE")
    assert record.outcome["result"] == "approved", record.outcome
    assert registry.get_alias("churn", "champion") == "2"
    assert registry.get_alias("churn", "previous_champion") == "1"
    tags = registry.get_version("churn", "2").tags
    assert tags["mlops.approval"] == "approved" and tags["mlops.approval.by"] == "U_ALICE"
    section = read_section(registry.get_version("churn", "2").description, "approval")
    assert "approved" in section and "u_alice (U_ALICE)" in section
    [answer] = notifier.answers
    assert not answer.private and answer.reply_to == REPLY and answer.original == SHOWN
    assert answer.text.startswith(":white_check_mark: *Approved* by <@U_ALICE> at 2027-")


def test_anyone_else_is_told_not_allowed_and_nothing_changes(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, notifier = make("manual")
    request = run(dispatcher, "2")
    _, record = click(dispatcher, request.id, "U_MALLORY")
    assert record.outcome["result"] == "not_allowed"
    assert registry.get_alias("churn", "champion") == "1"
    assert "mlops.approval" not in registry.get_version("churn", "2").tags
    [answer] = notifier.answers
    assert answer.private and "Not allowed: <@U_MALLORY>" in answer.text
    # the refusal took nothing: a reviewer can still decide
    _, record = click(dispatcher, request.id, "U_BOB", "reject", ts="1.2")
    assert record.outcome["result"] == "rejected"
    assert registry.get_version("churn", "2").tags["mlops.promotion"] == "rejected"
    assert registry.get_alias("churn", "champion") == "1"


def test_a_request_is_decided_once(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, notifier = make("manual")
    request = run(dispatcher, "2")
    first, record = click(dispatcher, request.id, "U_ALICE")
    assert record.outcome["result"] == "approved"
    # Slack retrying the same click: the same event, not run again
    again, rerun = click(dispatcher, request.id, "U_ALICE")
    assert not again.created and again.record.id == first.record.id and rerun is None
    # another reviewer's later click: told who decided, nothing changes
    _, late = click(dispatcher, request.id, "U_BOB", "reject", ts="1.3")
    assert late.outcome["result"] == "already_decided"
    assert "approve by U_ALICE" in late.outcome["summary"]
    assert registry.get_alias("churn", "champion") == "2"
    assert "mlops.promotion" not in registry.get_version("churn", "2").tags
    assert [a.private for a in notifier.answers] == [False, True]


def test_clicks_on_unknown_or_unvalidated_requests_change_nothing(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, notifier = make("manual")
    _, record = click(dispatcher, "ev_000000000000000000000000", "U_ALICE")
    assert record.outcome["result"] == "unknown_request"
    request = run(dispatcher, "2")
    registry.set_tags("churn", "2", {"mlops.validation": "failed"})
    _, record = click(dispatcher, request.id, "U_ALICE", ts="1.4")
    assert record.outcome["result"] == "not_validated"
    assert registry.get_alias("churn", "champion") == "1"
    assert all(a.private for a in notifier.answers) and len(notifier.answers) == 2


def test_auto_mode_requests_are_not_awaiting_approval(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, _ = make("auto")
    request = run(dispatcher, "2")
    registry.set_alias("churn", "champion", "1")  # someone moved it back by hand
    _, record = click(dispatcher, request.id, "U_ALICE")
    assert record.outcome["result"] == "not_awaiting"
    assert registry.get_alias("churn", "champion") == "1"


def cli_decision(dispatcher, request_id: str, user: str, decision: str = "approve"):
    """What `mlops-hooks approve|reject` records (functions/cli_approve.py)."""
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import Source

    event = events.approval(
        f"cli:{request_id}:{user}:{decision}",
        source=Source.CLI,
        reason=f"{decision} by {user} (command line)",
        payload={
            "request_id": request_id,
            "decision": decision,
            "user_id": user,
            "user_name": user,
            "reason": "better on the holdout",
        },
    )
    return dispatcher.process(dispatcher.submit(event).record.id)


def test_a_cli_reviewer_decides_once_and_the_slack_request_is_updated(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, notifier = make("manual")
    request = run(dispatcher, "2")
    assert request.outcome["data"]["posted"] == {"channel": "C-FAKE", "ts": "1"}
    [asked] = notifier.approvals
    assert asked.cli_reviewers == ["carol"] and asked.command_args == "churn 2"

    refused = cli_decision(dispatcher, request.id, "U_ALICE")  # a Slack id is not a CLI name
    assert refused.outcome["result"] == "not_allowed"
    assert "promotion.cli_reviewers" in refused.outcome["summary"]
    assert registry.get_alias("churn", "champion") == "1"

    record = cli_decision(dispatcher, request.id, "carol")
    assert record.outcome["result"] == "approved", record.outcome
    assert registry.get_alias("churn", "champion") == "2"
    section = read_section(registry.get_version("churn", "2").description, "approval")
    assert "by carol from the command line" in section and "better on the holdout" in section
    [(posted, text)] = notifier.updates
    assert posted == {"channel": "C-FAKE", "ts": "1"}
    assert text.startswith(":white_check_mark: *Approved* by carol from the command line")

    again = cli_decision(dispatcher, request.id, "carol", "reject")
    assert again.outcome["result"] == "already_decided"
    assert "approve by carol (command line)" in again.outcome["summary"]
    assert registry.get_alias("churn", "champion") == "2"
