"""The real slack-sdk against a local fake of Slack's endpoints (recording, fault injection)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from shared.adapters.slack_notifier import SlackError, SlackNotifier
from shared.bootstrap import notifier_from
from shared.ports import LogNotifier, Notification
from shared.settings import Settings
from tests.support.fake_http import FakeHTTP, Request

HOOK = "/services/T000/B000/XXXX"
MESSAGE = Notification(
    title="churn v7: validation failed",
    text="2 of 6 checks failed",
    verdict="failed",
    facts=[("model", "churn"), ("version", "7")],
    problems=["signature: no signature logged", "metrics: roc_auc 0.61 < 0.75"],
    link_url="http://mlflow.local/#/models/churn/versions/7",
    link_label="Open version 7",
)


@pytest.fixture
def slack() -> Iterator[tuple[FakeHTTP, str]]:
    fake = FakeHTTP()
    fake.route("POST", HOOK)(lambda req: (200, "ok"))
    fake.route("POST", "/api/chat.postMessage")(
        lambda req: (200, {"ok": True, "channel": "C1", "ts": "1700000000.000100"})
    )
    url = fake.start()
    yield fake, url
    fake.stop()


def test_block_kit_payload_reaches_the_webhook_and_429_is_retried_once(slack) -> None:
    fake, url = slack
    fake.fail_next("POST", HOOK, 429, retry_after=1)
    SlackNotifier(webhook_url=url + HOOK).notify(MESSAGE)
    calls = fake.calls("POST", HOOK)
    assert len(calls) == 2  # the 429, then one delivery
    body = calls[-1].json()
    assert body["text"] == "churn v7: validation failed: failed"
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "section", "actions"]
    assert body["blocks"][0]["text"]["text"] == "churn v7: validation failed"
    assert "metrics: roc_auc 0.61 < 0.75" in body["blocks"][3]["text"]["text"]
    assert body["blocks"][4]["elements"][0]["url"].endswith("/versions/7")


def test_server_errors_are_retried_and_a_lasting_failure_is_raised(slack) -> None:
    fake, url = slack
    fake.fail_next("POST", HOOK, 503, times=1)
    SlackNotifier(webhook_url=url + HOOK, max_retries=2).notify(MESSAGE)
    assert len(fake.calls("POST", HOOK)) == 2
    fake.fail_next("POST", HOOK, 500, times=5)
    with pytest.raises(SlackError, match="answered 500"):
        SlackNotifier(webhook_url=url + HOOK, max_retries=2).notify(MESSAGE)


def test_bot_token_posts_to_the_channel(slack) -> None:
    fake, url = slack
    settings = Settings(
        slack_bot_token="xoxb-test", slack_channel="#mlops", slack_api_url=url + "/api/"
    )
    notifier = notifier_from(settings)
    assert isinstance(notifier, SlackNotifier)
    notifier.notify(MESSAGE)
    [call] = fake.calls("POST", "/api/chat.postMessage")
    assert call.headers["authorization"] == "Bearer xoxb-test"
    sent = _form_or_json(call)
    assert sent["channel"] == "#mlops" and "blocks" in sent


def _form_or_json(call: Request) -> dict:
    import json
    from urllib.parse import parse_qs

    if call.headers.get("content-type", "").startswith("application/json"):
        return call.json()
    return {k: v[0] for k, v in parse_qs(call.body.decode()).items()} | {
        "blocks": json.loads(parse_qs(call.body.decode())["blocks"][0])
    }


def test_without_slack_settings_messages_go_to_the_log(caplog) -> None:
    notifier = notifier_from(Settings())
    assert isinstance(notifier, LogNotifier)
    with caplog.at_level(logging.INFO, logger="mlops_hooks.notify"):
        notifier.notify(MESSAGE)
    assert "churn v7: validation failed" in caplog.text and "roc_auc 0.61" in caplog.text


def test_incomplete_bot_settings_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="MLOPS_HOOKS_SLACK_CHANNEL"):
        SlackNotifier(bot_token="xoxb-test")
