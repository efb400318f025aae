"""Inbound webhook signature checks, all in constant time.

Hand-written because neither MLflow nor databricks-sdk ships a *receiver-side* verifier
(MLflow only signs; Databricks documents the scheme). Slack's is slack_sdk's
SignatureVerifier, used where Slack requests arrive.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Mapping

from mlops_hooks.shared.domain.errors import MlopsHooksError


class SignatureError(MlopsHooksError):
    """The request is not provably from the configured sender. Message is one line."""


MLFLOW_SIGNATURE = "x-mlflow-signature"
MLFLOW_TIMESTAMP = "x-mlflow-timestamp"
MLFLOW_DELIVERY_ID = "x-mlflow-delivery-id"
DATABRICKS_SIGNATURE = "x-databricks-signature"


MAX_HEADER_CHARS = 1024  # what a signature, timestamp or delivery id can reasonably be
_DIGITS = frozenset("0123456789")


def _header(headers: Mapping[str, str], name: str) -> str:
    # Starlette headers are case-insensitive; plain dicts (Lambda, tests) may not be.
    value = headers.get(name)
    if value is None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name)
    if not value:
        raise SignatureError(f"missing {name} header")
    if len(value) > MAX_HEADER_CHARS:
        raise SignatureError(f"{name} header is longer than {MAX_HEADER_CHARS} characters")
    return value


def unix_timestamp(value: str, name: str) -> int:
    """Seconds since the epoch from a header, read before any signature is checked: ASCII
    digits only (``isdigit`` accepts "²", ``int`` accepts "١٢"), at most 12 of them (no
    overflow when compared with the clock)."""
    if not value or len(value) > 12 or not set(value) <= _DIGITS:
        raise SignatureError(f"{name} is not a unix timestamp")
    return int(value)


def sign_mlflow(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The signature MLflow 3 sends: v1,base64(HMAC-SHA256(secret, id.ts.body))."""
    signed = b"%s.%s.%s" % (delivery_id.encode(), timestamp.encode(), body)
    digest = hmac.digest(secret.encode("utf-8"), signed, "sha256")
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_mlflow(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> str:
    """Check an MLflow webhook; returns the delivery id. Raises SignatureError."""
    signature = _header(headers, MLFLOW_SIGNATURE)
    timestamp = _header(headers, MLFLOW_TIMESTAMP)
    delivery_id = _header(headers, MLFLOW_DELIVERY_ID)
    sent_at = unix_timestamp(timestamp, MLFLOW_TIMESTAMP)
    skew = abs((time.time() if now is None else now) - sent_at)
    if skew > tolerance_seconds:
        raise SignatureError(
            f"timestamp is {int(skew)} s away from now (more than {tolerance_seconds} s)"
        )
    expected = sign_mlflow(secret, delivery_id, timestamp, body).encode()
    # Standard-webhooks style: several space-separated signatures may be sent (key rotation).
    if not any(hmac.compare_digest(expected, s.encode()) for s in signature.split(" ") if s):
        raise SignatureError("x-mlflow-signature does not match the body")
    return delivery_id


def sign_databricks(secret: str, body: bytes) -> str:
    return hmac.digest(secret.encode("utf-8"), body, "sha256").hex()


def verify_databricks(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Check a Databricks registry webhook: hex HMAC-SHA256 of the raw body."""
    signature = _header(headers, DATABRICKS_SIGNATURE).strip().lower()
    expected = sign_databricks(secret, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureError("x-databricks-signature does not match the body")
