"""The notifier when no Slack is configured: every message goes to the log."""

from __future__ import annotations

import logging

from mlops_hooks.shared.ports.notifier import Answer, ApprovalRequest, Notification, Posted


class LogNotifier:
    """The default when no Slack is configured: the message goes to the log."""

    def __init__(self) -> None:
        self.log = logging.getLogger("mlops_hooks.notify")

    def notify(self, message: Notification) -> None:
        problems = f" problems: {', '.join(message.problems)}" if message.problems else ""
        self.log.info("[%s] %s: %s%s", message.verdict, message.title, message.text, problems)

    def request_approval(self, request: ApprovalRequest) -> Posted:
        self.notify(request.message)
        self.log.warning(
            "approval needed for %s (request %s): no Slack is configured; a CLI reviewer "
            "(promotion.cli_reviewers: %s) decides with `mlops-hooks approve|reject %s`",
            request.message.title,
            request.request_id,
            ", ".join(request.cli_reviewers) or "none listed",
            request.command_args,
        )
        return None

    def update_request(self, posted: Posted, text: str) -> bool:
        if posted is not None:  # asked on Slack by a deployment configured for it
            self.log.warning(
                "the request on Slack is not updated: no Slack is configured here "
                "(SLACK_BOT_TOKEN and MLOPS_HOOKS_SLACK_CHANNEL, as where it was asked)"
            )
        self.log.info("decided: %s", text)
        return False

    def answer(self, answer: Answer) -> None:
        self.log.info("answer to a reviewer: %s", answer.text)
