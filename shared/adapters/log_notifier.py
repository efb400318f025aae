"""The notifier when no Slack is configured: every message goes to the log."""

from __future__ import annotations

import logging

from mlops_hooks.shared.ports.notifier import Answer, ApprovalRequest, Notification


class LogNotifier:
    """The default when no Slack is configured: the message goes to the log."""

    def __init__(self) -> None:
        self.log = logging.getLogger("mlops_hooks.notify")

    def notify(self, message: Notification) -> None:
        problems = f" problems: {', '.join(message.problems)}" if message.problems else ""
        self.log.info("[%s] %s: %s%s", message.verdict, message.title, message.text, problems)

    def request_approval(self, request: ApprovalRequest) -> None:
        self.notify(request.message)
        self.log.warning(
            "approval needed for %s, but no Slack is configured to ask reviewers %s "
            "(set SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL, and SLACK_SIGNING_SECRET)",
            request.request_id,
            ", ".join(request.reviewers) or "(none listed in promotion.reviewers)",
        )

    def answer(self, answer: Answer) -> None:
        self.log.info("answer to a reviewer: %s", answer.text)
