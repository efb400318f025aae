from __future__ import annotations

import time

import pytest

from mlops_hooks.shared.domain.signatures import (
    SignatureError,
    sign_databricks,
    sign_mlflow,
    verify_databricks,
    verify_mlflow,
)

BODY = b'{"entity":"model_version","action":"created","data":{}}'


def mlflow_headers(secret: str, body: bytes = BODY, ts: int | None = None, delivery="d-1"):
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign_mlflow(secret, delivery, stamp, body),
    }


def test_mlflow_signature_matches_mlflows_own_signer() -> None:
    from mlflow.webhooks.delivery import _generate_hmac_signature

    assert sign_mlflow("s", "id", "123", BODY) == _generate_hmac_signature(
        "s", "id", "123", BODY.decode()
    )


def test_valid_mlflow_signature_returns_the_delivery_id() -> None:
    assert verify_mlflow("s", mlflow_headers("s"), BODY) == "d-1"


# Built at test time, not collection time: a suite that runs past the 300 s window before
# reaching these would otherwise reject them all as stale, for the wrong reason.
@pytest.mark.parametrize(
    ("make_headers", "body", "message"),
    [
        (lambda: mlflow_headers("wrong"), BODY, "does not match"),
        (lambda: mlflow_headers("s"), BODY + b" ", "does not match"),
        (lambda: mlflow_headers("s", ts=int(time.time()) - 3600), BODY, "away from now"),
        (lambda: mlflow_headers("s", ts=int(time.time()) + 3600), BODY, "away from now"),
        (
            lambda: {**mlflow_headers("s"), "X-MLflow-Timestamp": "soon"},
            BODY,
            "not a unix timestamp",
        ),
        (
            lambda: {k: v for k, v in mlflow_headers("s").items() if k != "X-MLflow-Signature"},
            BODY,
            "missing x-mlflow-signature",
        ),
        (
            lambda: {**mlflow_headers("s"), "X-MLflow-Signature": "v1,Zm9yZ2Vk"},
            BODY,
            "does not match",
        ),
    ],
    ids=["wrong-secret", "tampered-body", "stale", "future", "bad-ts", "missing", "forged"],
)
def test_bad_mlflow_signatures_are_rejected(make_headers, body, message) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_mlflow("s", make_headers(), body)


def test_rotated_signatures_accept_any_matching_entry() -> None:
    headers = mlflow_headers("s")
    headers["X-MLflow-Signature"] = "v1,b2xk " + headers["X-MLflow-Signature"]
    assert verify_mlflow("s", headers, BODY) == "d-1"


def test_databricks_signature() -> None:
    verify_databricks("k", {"X-Databricks-Signature": sign_databricks("k", BODY)}, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify_databricks("k", {"X-Databricks-Signature": sign_databricks("j", BODY)}, BODY)
    with pytest.raises(SignatureError, match="missing"):
        verify_databricks("k", {}, BODY)
