"""The real slack-sdk against a local fake of Slack's endpoints (recording, fault injection)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mlops_hooks.shared.adapters.log_notifier import LogNotifier
from mlops_hooks.shared.adapters.slack_notifier import SlackError, SlackNotifier
from mlops_hooks.shared.bootstrap import notifier_from
from mlops_hooks.shared.ports.notifier import Answer, ApprovalRequest, Notification
from mlops_hooks.shared.settings import Settings
from tests.support.fake_http import FakeHTTP
from tests.support.slack import sent_fields

HOOK = "/services/T000/B000/XXXX"
RESPONSE = "/actions/T000/1234/abcd"  # a click's response_url
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
    fake.route("POST", RESPONSE)(lambda req: (200, "ok"))
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
    sent = sent_fields(call)
    assert sent["channel"] == "#mlops" and "blocks" in sent


def test_without_slack_settings_messages_go_to_the_log(caplog) -> None:
    notifier = notifier_from(Settings())
    assert isinstance(notifier, LogNotifier)
    with caplog.at_level(logging.INFO, logger="mlops_hooks.notify"):
        notifier.notify(MESSAGE)
    assert "churn v7: validation failed" in caplog.text and "roc_auc 0.61" in caplog.text


def test_incomplete_bot_settings_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="MLOPS_HOOKS_SLACK_CHANNEL"):
        SlackNotifier(bot_token="xoxb-test")


def test_an_approval_request_carries_the_table_and_buttons_with_the_request_id(slack) -> None:
    fake, url = slack
    request = ApprovalRequest(
        message=MESSAGE,
        request_id="ev_0123456789abcdef01234567",
        table=[
            ["metric", "champion v1", "challenger v2", "delta"],
            ["roc_auc (primary)", "0.8012", "0.8433", "+0.0421"],
        ],
        reviewers=["U_ALICE", "U_BOB"],
    )
    SlackNotifier(webhook_url=url + HOOK).request_approval(request)
    body = fake.calls("POST", HOOK)[-1].json()
    assert body["text"] == "Approval requested: churn v7: validation failed"
    table = next(b for b in body["blocks"] if "```" in b.get("text", {}).get("text", ""))
    assert "roc_auc (primary)  0.8012" in table["text"]["text"]  # columns aligned
    context = next(b for b in body["blocks"] if b["type"] == "context")
    assert "<@U_ALICE>, <@U_BOB>" in context["elements"][0]["text"]
    [actions] = [b for b in body["blocks"] if b["type"] == "actions"]
    assert actions["block_id"] == "mlops_approval"
    approve, reject, link = actions["elements"]
    assert (approve["action_id"], approve["value"], approve["style"]) == (
        "mlops_approve",
        request.request_id,
        "primary",
    )
    assert reject["action_id"] == "mlops_reject" and reject["value"] == request.request_id
    assert reject["confirm"]["confirm"]["text"] == "Reject"
    assert link["url"].endswith("/versions/7")


def test_answers_go_to_the_response_url_privately_or_replacing_the_buttons(slack) -> None:
    fake, url = slack
    notifier = SlackNotifier(webhook_url=url + HOOK)
    shown = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approve?"}},
        {"type": "actions", "block_id": "mlops_approval", "elements": []},
    ]
    fake.fail_next("POST", RESPONSE, 429, retry_after=1)
    notifier.answer(Answer(url + RESPONSE, "Not allowed", private=True, original=shown))
    notifier.answer(Answer(url + RESPONSE, "Approved by <@U_ALICE>", original=shown))
    calls = fake.calls("POST", RESPONSE)
    assert len(calls) == 3  # the 429 was retried
    private, public = calls[1].json(), calls[2].json()
    assert private["response_type"] == "ephemeral" and private["replace_original"] is False
    assert public["replace_original"] is True
    assert [b["type"] for b in public["blocks"]] == ["header", "section"]  # buttons gone
    assert public["blocks"][1]["text"]["text"] == "Approved by <@U_ALICE>"
