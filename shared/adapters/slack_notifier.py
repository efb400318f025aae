"""Slack notifier on slack-sdk: an incoming webhook, or a bot token and a channel.

Messages are Block Kit (header, verdict and text, facts, the problems, a button to the model
version). slack-sdk's own retry handlers retry 429 (honouring Retry-After) and 5xx.
"""

from __future__ import annotations

from typing import Any

from shared.ports import Notification

_ICON = {
    "passed": ":white_check_mark:",
    "failed": ":x:",
    "warning": ":warning:",
    "info": ":information_source:",
}


class SlackError(RuntimeError):
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
        blocks = blocks_for(message)
        fallback = f"{message.title}: {message.verdict}"  # notifications and screen readers
        if self._webhook is not None:
            response = self._webhook.send(text=fallback, blocks=blocks)
            if response.status_code != 200:
                raise SlackError(
                    f"Slack webhook answered {response.status_code}: {response.body[:200]}"
                )
            return
        from slack_sdk.errors import SlackApiError

        try:
            self._web.chat_postMessage(channel=self.channel, text=fallback, blocks=blocks)
        except SlackApiError as exc:
            raise SlackError(
                f"Slack chat.postMessage failed: {exc.response.get('error')}"
            ) from None
