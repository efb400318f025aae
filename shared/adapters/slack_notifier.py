"""Slack notifier on slack-sdk: an incoming webhook, or a bot token and a channel.

Messages are Block Kit (header, verdict and text, facts, the problems, a button to the model
version). Approval requests add the comparison table and Approve / Reject buttons whose value
is the promotion request's event id; clicks come back to ``POST /slack/actions``
(functions/slack_actions.py) and are answered through the click's ``response_url``, which
works for messages posted either way. slack-sdk's own retry handlers retry 429 (honouring
Retry-After) and 5xx.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mlops_hooks.shared.domain.errors import MlopsHooksError
from mlops_hooks.shared.ports.notifier import Answer, ApprovalRequest, Notification, Posted

# The buttons' action ids, which the edge maps back to a decision.
APPROVE_ACTION = "mlops_approve"
REJECT_ACTION = "mlops_reject"
DECISIONS = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}
APPROVAL_BLOCK = "mlops_approval"  # the actions block removed once someone has decided

_ICON = {
    "passed": ":white_check_mark:",
    "failed": ":x:",
    "error": ":warning:",
    "warning": ":warning:",
    "info": ":information_source:",
}


class SlackError(MlopsHooksError):
    pass


def blocks_for(message: Notification) -> list[dict[str, Any]]:
    from slack_sdk.models.blocks import (
        ActionsBlock,
        ButtonElement,
        HeaderBlock,
        SectionBlock,
    )
    from slack_sdk.models.blocks.basic_components import MarkdownTextObject

    icon = _ICON.get(message.verdict, "")
    blocks: list[Any] = [
        HeaderBlock(text=message.title[:150]),
        SectionBlock(
            text=MarkdownTextObject(text=f"{icon} *{message.verdict}*  {message.text}"[:3000])
        ),
    ]
    if message.facts:
        blocks.append(
            SectionBlock(
                fields=[
                    MarkdownTextObject(text=f"*{label}*\n{value}"[:2000])
                    for label, value in message.facts[:10]
                ]
            )
        )
    if message.problems:
        listed = "\n".join(f"• {p}" for p in message.problems[:20])
        blocks.append(SectionBlock(text=MarkdownTextObject(text=listed[:3000])))
    if message.link_url:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=message.link_label[:75], url=message.link_url, action_id="open"
                    )
                ]
            )
        )
    return [b.to_dict() for b in blocks]


def approval_blocks(request: ApprovalRequest) -> list[dict[str, Any]]:
    """The notification, the comparison table, the reviewers and Approve / Reject buttons."""
    from slack_sdk.models.blocks import (
        ActionsBlock,
        ButtonElement,
        ConfirmObject,
        ContextBlock,
        SectionBlock,
    )
    from slack_sdk.models.blocks.basic_components import MarkdownTextObject

    blocks = blocks_for(replace(request.message, link_url=None))
    if request.table:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=_code_table(request.table)[:3000])).to_dict()
        )
    who = ", ".join(f"<@{r}>" for r in request.reviewers) or "nobody: set promotion.reviewers"
    blocks.append(
        ContextBlock(
            elements=[MarkdownTextObject(text=f"Reviewers: {who} · request `{request.request_id}`")]
        ).to_dict()
    )
    buttons = [
        ButtonElement(
            text="Approve", action_id=APPROVE_ACTION, value=request.request_id, style="primary"
        ),
        ButtonElement(
            text="Reject",
            action_id=REJECT_ACTION,
            value=request.request_id,
            style="danger",
            confirm=ConfirmObject(
                title="Reject this promotion?",
                text="The champion stays; the challenger is marked rejected.",
                confirm="Reject",
                deny="Cancel",
            ),
        ),
    ]
    if request.message.link_url:
        buttons.append(
            ButtonElement(
                text=request.message.link_label[:75],
                url=request.message.link_url,
                action_id="open",
            )
        )
    blocks.append(ActionsBlock(block_id=APPROVAL_BLOCK, elements=buttons).to_dict())
    return blocks


def _code_table(rows: list[list[str]]) -> str:
    """A table Slack shows aligned: mrkdwn has no tables, a code block keeps the columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "```\n" + "\n".join(line.rstrip() for line in lines) + "\n```"


def answered_blocks(original: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The request as the reviewer saw it, its buttons replaced by who decided and when."""
    kept = [b for b in original if b.get("block_id") != APPROVAL_BLOCK]
    return [*kept, {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]


def _check(response: Any, what: str) -> None:
    if response.status_code != 200:
        raise SlackError(f"Slack {what} answered {response.status_code}: {response.body[:200]}")


class SlackNotifier:
    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        bot_token: str | None = None,
        channel: str | None = None,
        api_url: str | None = None,
        max_retries: int = 3,
    ) -> None:
        from slack_sdk.http_retry.builtin_handlers import (
            RateLimitErrorRetryHandler,
            ServerErrorRetryHandler,
        )

        retries = [
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            ServerErrorRetryHandler(max_retry_count=max_retries),
        ]
        self._retries = retries
        if webhook_url:
            from slack_sdk.webhook import WebhookClient

            self._webhook: Any = WebhookClient(webhook_url, retry_handlers=retries)
            self._web: Any = None
        elif bot_token and channel:
            from slack_sdk import WebClient

            kwargs = {"base_url": api_url} if api_url else {}
            self._web = WebClient(token=bot_token, retry_handlers=retries, **kwargs)
            self._webhook = None
            self.channel = channel
        else:
            raise ValueError(
                "Slack needs SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and MLOPS_HOOKS_SLACK_CHANNEL"
            )

    def notify(self, message: Notification) -> None:
        self._post(blocks_for(message), f"{message.title}: {message.verdict}")

    def request_approval(self, request: ApprovalRequest) -> Posted:
        blocks = approval_blocks(request)
        where = self._post(blocks, f"Approval requested: {request.message.title}")
        return None if where is None else {**where, "blocks": blocks}

    def update_request(self, posted: Posted, text: str) -> bool:
        """chat.update of a bot-posted request; an incoming webhook's message cannot be
        updated, so the decision is posted as a message of its own."""
        if posted is None or self._web is None:
            self._post([{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}], text)
            return False
        from slack_sdk.errors import SlackApiError

        try:
            self._web.chat_update(
                channel=posted["channel"],
                ts=posted["ts"],
                text=text,
                blocks=answered_blocks(posted.get("blocks") or [], text),
            )
        except SlackApiError as exc:
            raise SlackError(f"Slack chat.update failed: {exc.response.get('error')}") from None
        return True

    def answer(self, answer: Answer) -> None:
        """Through the click's response_url: ephemeral, or replacing the request's buttons."""
        from slack_sdk.webhook import WebhookClient

        client = WebhookClient(answer.reply_to, retry_handlers=self._retries)
        if answer.private:
            response = client.send(
                text=answer.text, response_type="ephemeral", replace_original=False
            )
        else:
            response = client.send(
                text=answer.text,
                blocks=answered_blocks(answer.original, answer.text),
                replace_original=True,
            )
        _check(response, "response_url")

    def _post(self, blocks: list[dict[str, Any]], fallback: str) -> dict[str, str] | None:
        """Post; where the message is (channel, ts) when posted with the bot token (None: an
        incoming webhook's message, which cannot be updated)."""
        # ``fallback`` is the text notifications and screen readers show
        if self._webhook is not None:
            _check(self._webhook.send(text=fallback, blocks=blocks), "webhook")
            return None
        from slack_sdk.errors import SlackApiError

        try:
            response = self._web.chat_postMessage(
                channel=self.channel, text=fallback, blocks=blocks
            )
        except SlackApiError as exc:
            raise SlackError(
                f"Slack chat.postMessage failed: {exc.response.get('error')}"
            ) from None
        # chat.update wants the channel id chat.postMessage answers with (not a #name)
        return {"channel": str(response.get("channel") or self.channel), "ts": str(response["ts"])}
