"""What a command says when a server or a webhook cannot be used: one line with the cause."""

from __future__ import annotations

from mlops_hooks.shared.adapters.webhook_registration import judge_test_delivery
from mlops_hooks.shared.domain.server_errors import cause_of, unusable

REFUSED = (
    "API request to http://127.0.0.1:1/api/2.0/mlflow/webhooks failed with exception "
    "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
    "/api/2.0/mlflow/webhooks (Caused by NewConnectionError('<urllib3.connection.HTTPConnection"
    " object>: Failed to establish a new connection: [Errno 111] Connection refused'))"
)


def test_client_errors_become_their_cause() -> None:
    assert unusable("MLflow server", "http://127.0.0.1:1", RuntimeError(REFUSED)) == (
        "the MLflow server at http://127.0.0.1:1: connection refused (is it running on that port?)"
    )
    assert cause_of(RuntimeError("... Caused by ResponseError('too many 500 error responses')"))
    assert cause_of(ValueError("first line\nsecond")) == "ValueError: first line"
    assert cause_of("WebhookProblem: the MLflow server at X: it answered 500") == (
        "the MLflow server at X: it answered 500"
    )


def test_what_a_test_delivery_showed() -> None:
    ok = judge_test_delivery(
        "w -> u",
        status=202,
        body='{"id": "ev_1", "kind": "ignored", "status": "ignored", "reason": "test delivery"}',
        error="",
    )
    assert ok.ok and ok.event_id == "ev_1" and ok.said.endswith("as ev_1 (test delivery)")
    forged = judge_test_delivery(
        "w -> u", status=401, body='{"error": "x does not match"}', error=""
    )
    assert not forged.ok and "401: x does not match" in forged.said and "secret" in forged.said
    other = judge_test_delivery("w -> u", status=200, body="<html>hello</html>", error="")
    assert not other.ok and "is it mlops-hooks' /webhooks/mlflow route?" in other.said
    private = judge_test_delivery(
        "w -> u",
        status=None,
        body="",
        error="SSRFProtectionError('Webhook connection blocked: 10.0.0.5 is not a public IP "
        "address. This may indicate a DNS rebinding attempt.')",
    )
    assert "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true" in private.said
    scheme = judge_test_delivery(
        "w -> u",
        status=None,
        body="",
        error="Invalid webhook URL scheme: 'http'. Allowed schemes are: https.",
    )
    assert "MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https" in scheme.said
