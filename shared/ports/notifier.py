"""The notifier port: messages for people, approval requests, answers to reviewers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Notification:
    """A message for people: a verdict, a short text, some facts and a link to act on."""

    title: str
    text: str
    verdict: str = "info"  # "passed", "failed", "info", "warning"
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. the failing checks
    link_url: str | None = None
    link_label: str = "Open"


@dataclass(frozen=True)
class ApprovalRequest:
    """Ask the reviewers to approve or reject a promotion.

    ``request_id`` (the promotion_requested event's id) travels on the Approve / Reject
    buttons and comes back with the click as an ``approval`` event.
    """

    message: Notification
    request_id: str
    table: list[list[str]] = field(default_factory=list)  # header row, then one row per metric
    reviewers: list[str] = field(default_factory=list)
    # who may decide from the command line, and the arguments that name the version there
    cli_reviewers: list[str] = field(default_factory=list)
    command_args: str = ""


@dataclass(frozen=True)
class Answer:
    """The answer to a reviewer's click, sent back where the request was shown.

    ``reply_to`` is the transport's return address (Slack: the click's ``response_url``).
    Private answers reach only the clicker and leave the request as it was (not allowed,
    already decided); a public one replaces the request's buttons with ``text``, keeping
    ``original`` (the request as the reviewer saw it) above.
    """

    reply_to: str
    text: str
    private: bool = False
    original: list[dict[str, Any]] = field(default_factory=list)


# Where an approval request was posted (Slack with a bot token: its channel, ts and blocks), so
# a decision taken elsewhere (the command line) can update it; None where a message cannot be
# updated (an incoming webhook, the log).
Posted = dict[str, Any] | None


class Notifier(Protocol):
    def notify(self, message: Notification) -> None: ...

    def request_approval(self, request: ApprovalRequest) -> Posted: ...

    def answer(self, answer: Answer) -> None: ...

    def update_request(self, posted: Posted, text: str) -> bool:
        """Say on the posted request (its buttons replaced) that it was decided elsewhere;
        where it cannot be updated, say it as a new message. True if the request itself
        changed."""
        ...
