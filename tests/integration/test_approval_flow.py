"""Manual mode on real components: a real MLflow 3 server's webhooks, `serve`, the real
slack-sdk posting to a local fake of Slack, and signed reviewer clicks on POST /slack/actions.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from mlflow import MlflowClient

from tests.support.fake_http import FakeHTTP
from tests.support.http import HTTP
from tests.support.mlflow_models import log_and_register, version_with_alias
from tests.support.processes import Proc, wait_for
from tests.support.slack import click_body, sent_fields, signed_headers

SIGNING_SECRET = "slack-signing-secret-for-tests"
RESPONSE = "/actions/T1/42/response"
POLICY = """
models:
  - name: "approve-*"
    checks:
      loads: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.6}}, evaluator: builtin}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    comparison: {resamples: 200}
    promotion: {mode: manual, reviewers: [U_ALICE]}
"""


def test_a_listed_reviewers_signed_click_promotes_once(
    mlflow_server: Proc, validating_serve, churn, tmp_path: Path
) -> None:
    train, holdout_csv, model = churn
    slack = FakeHTTP()
    slack.route("POST", "/api/chat.postMessage")(
        lambda req: (200, {"ok": True, "channel": "C1", "ts": "1800000000.000100"})
    )
    slack.route("POST", RESPONSE)(lambda req: (200, "ok"))
    slack_url = slack.start()
    try:
        policy = tmp_path / "mlops.yml"
        policy.write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
        serve = validating_serve(
            MLOPS_HOOKS_POLICY=str(policy),
            SLACK_BOT_TOKEN="xoxb-test",
            MLOPS_HOOKS_SLACK_CHANNEL="#models",
            MLOPS_HOOKS_SLACK_API_URL=slack_url + "/api/",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
        )
        client = MlflowClient(tracking_uri=mlflow_server.url)
        name = f"approve-{uuid.uuid4().hex[:6]}"

        def champion() -> str | None:
            return version_with_alias(client, name)

        def asked() -> list[dict]:
            posted = [sent_fields(c) for c in slack.calls("POST", "/api/chat.postMessage")]
            return [p for p in posted if p["text"].startswith("Approval requested")]

        version = log_and_register(mlflow_server.url, name, model, train, client=client)
        wait_for(asked, 120, "the approval request on Slack")
        [request] = asked()
        [buttons] = [b for b in request["blocks"] if b.get("block_id") == "mlops_approval"]
        request_id = buttons["elements"][0]["value"]
        assert champion() is None  # asking is not deciding

        def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
            return HTTP.post(f"{serve.url}/slack/actions", content=body, headers=headers)

        def click(user: str, ts: str) -> bytes:
            return click_body(
                request_id,
                user,
                action_ts=ts,
                response_url=slack_url + RESPONSE,
                blocks=request["blocks"],
            )

        forged = click("U_ALICE", "1.1")
        answer = post(forged, signed_headers("not-the-signing-secret", forged))
        assert answer.status_code == 401

        mallory = click("U_MALLORY", "1.2")
        assert post(mallory, signed_headers(SIGNING_SECRET, mallory)).status_code == 200
        wait_for(lambda: slack.calls("POST", RESPONSE), 60, "the answer to U_MALLORY")
        [refusal] = [c.json() for c in slack.calls("POST", RESPONSE)]
        assert refusal["response_type"] == "ephemeral"
        assert refusal["text"].startswith("Not allowed: <@U_MALLORY>")
        assert champion() is None

        alice = click("U_ALICE", "1.3")
        for _ in range(2):  # the click, and Slack's retry of it
            assert post(alice, signed_headers(SIGNING_SECRET, alice)).status_code == 200
        wait_for(lambda: champion() == version, 120, "the approved version to become champion")
        wait_for(lambda: len(slack.calls("POST", RESPONSE)) == 2, 60, "the message update")
        update = slack.calls("POST", RESPONSE)[1].json()
        assert update["replace_original"] is True
        assert update["text"].startswith(":white_check_mark: *Approved* by <@U_ALICE> at ")
        assert not [b for b in update["blocks"] if b.get("block_id") == "mlops_approval"]
        tags = client.get_model_version(name, version).tags
        assert tags["mlops.approval"] == "approved" and tags["mlops.approval.by"] == "U_ALICE"

        def approvals() -> dict[str, dict]:
            listed = HTTP.get(f"{serve.url}/events", params={"kind": "approval"}).json()
            records = [HTTP.get(f"{serve.url}/events/{s['id']}").json() for s in listed]
            return {r["outcome"]["result"]: r for r in records if r["status"] == "done"}

        wait_for(lambda: len(approvals()) == 2, 60, "both clicks to be done")
        by_result = approvals()
        assert sorted(by_result) == ["approved", "not_allowed"]  # two events, one promotion
        assert by_result["approved"]["deliveries"] == 2
        assert json.dumps(by_result).count(SIGNING_SECRET) == 0
    finally:
        slack.stop()


def test_a_cli_reviewer_approves_once_and_the_slack_request_says_so(
    mlflow_server: Proc, validating_serve, churn, tmp_path: Path
) -> None:
    """`mlops-hooks approve` as a user runs it, beside a running `serve` (one ledger): a
    reviewer not listed is refused, a listed one promotes, a second approve is told who decided;
    the Slack request posted with the bot token is updated through chat.update."""
    from tests.support.processes import cli

    train, holdout_csv, model = churn
    slack = FakeHTTP()
    slack.route("POST", "/api/chat.postMessage")(
        lambda req: (200, {"ok": True, "channel": "C1", "ts": "1800000000.000200"})
    )
    slack.route("POST", "/api/chat.update")(
        lambda req: (200, {"ok": True, "channel": "C1", "ts": "1800000000.000200"})
    )
    slack_url = slack.start()
    try:
        policy = tmp_path / "mlops.yml"
        policy.write_text(
            POLICY.replace("HOLDOUT", str(holdout_csv)).replace(
                "reviewers: [U_ALICE]", "reviewers: [U_ALICE], cli_reviewers: [carol]"
            )
        )
        slack_env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "MLOPS_HOOKS_SLACK_CHANNEL": "#models",
            "MLOPS_HOOKS_SLACK_API_URL": slack_url + "/api/",
        }
        validating_serve(MLOPS_HOOKS_POLICY=str(policy), **slack_env)
        client = MlflowClient(tracking_uri=mlflow_server.url)
        name = f"approve-{uuid.uuid4().hex[:6]}"
        version = log_and_register(mlflow_server.url, name, model, train, client=client)
        wait_for(lambda: slack.calls("POST", "/api/chat.postMessage"), 120, "the request")
        env = {
            "MLFLOW_TRACKING_URI": mlflow_server.url,
            "MLOPS_HOOKS_STATE_DIR": str(tmp_path / "state-0"),  # the serve's ledger
            "MLOPS_HOOKS_POLICY": str(policy),
            **slack_env,  # the same variables as the serve's (README: a second terminal)
        }

        mallory = cli(
            "approve", name, version, env={**env, "MLOPS_HOOKS_REVIEWER": "mallory"}, cwd=tmp_path
        )
        assert mallory.returncode == 1
        assert "Not allowed: mallory is not a reviewer" in mallory.stdout
        assert version_with_alias(client, name) is None

        carol = {**env, "MLOPS_HOOKS_REVIEWER": "carol"}
        done = cli("approve", name, version, "--reason", "beats v0", env=carol, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert version_with_alias(client, name) == version
        tags = client.get_model_version(name, version).tags
        assert tags["mlops.approval"] == "approved" and tags["mlops.approval.by"] == "carol"
        [update] = [sent_fields(c) for c in slack.calls("POST", "/api/chat.update")]
        assert update["channel"] == "C1" and update["ts"] == "1800000000.000200"
        assert update["text"].startswith(":white_check_mark: *Approved* by carol from the")
        assert not [b for b in update["blocks"] if b.get("block_id") == "mlops_approval"]

        again = cli("reject", name, version, env=carol, cwd=tmp_path)
        assert again.returncode == 1
        assert "Already decided: approve by carol (command line)" in again.stdout
        assert version_with_alias(client, name) == version
        missing = cli("approve", name, "99", env=carol, cwd=tmp_path)
        assert missing.returncode == 1
        assert f"no promotion request for {name} v99" in missing.stderr
    finally:
        slack.stop()
