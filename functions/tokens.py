"""Bearer tokens and the HMACs the web UI's session and form cookies are made of."""

from __future__ import annotations

import hashlib
import hmac


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 7235 / 6750: the scheme is
    case-insensitive, the token required); None for anything else."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def signed(secret: str, purpose: str) -> str:
    """An HMAC-SHA256 of ``purpose`` under ``secret`` (hex): what a cookie or a form carries
    instead of the secret itself."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison (a missing value is never equal)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
