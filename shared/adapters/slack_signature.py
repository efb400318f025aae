"""Slack request signing, checked by slack-sdk's SignatureVerifier (HMAC-SHA256 compared in
constant time, requests older than 5 minutes refused)."""

from __future__ import annotations


def slack_request_is_valid(secret: str, body: bytes, timestamp: str, signature: str) -> bool:
    from slack_sdk.signature import SignatureVerifier

    return SignatureVerifier(secret).is_valid(body, timestamp, signature)
