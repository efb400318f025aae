"""Who may see the pages and who may act.

Reading: anyone on this machine when `serve` is bound to loopback; elsewhere the API token
(a bearer header, or the session cookie the login form sets). Acting (Replay): always the
token, plus the form's CSRF token. The cookie carries a name and an HMAC of it under the
token, never the token; every comparison is constant-time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.functions.tokens import bearer_token, same, signed

COOKIE = "mlops_hooks_ui"
NAME = re.compile(r"[A-Za-z0-9._@-][A-Za-z0-9._@ -]{0,63}")
BEARER = "bearer"  # who a bearer header acts as (it names nobody)


@dataclass
class UiAuth:
    runtime: Any

    @property
    def token(self) -> str | None:
        return self.runtime.settings.secret("api_token")

    def user(self, request: Any) -> str | None:
        """The token holder's name (the login form's), None when the request has no token."""
        token = self.token
        if token is None:
            return None
        if same(bearer_token(request.headers.get("authorization")), token):
            return BEARER
        name, _, mac = (request.cookies.get(COOKIE) or "").rpartition(":")
        if name and same(mac, signed(token, f"session:{name}")):
            return name
        return None

    def require_read(self, request: Any) -> None:
        if not self.runtime.public:
            return  # bound to loopback: this machine's users only
        if self.token is None:  # events carry Slack response_urls: never open to the world
            raise Rejected(403, "the UI is off: set MLOPS_HOOKS_API_TOKEN to use it")
        if self.user(request) is None:
            raise Rejected(401, "sign in with the API token (MLOPS_HOOKS_API_TOKEN): /ui/login")

    def require_act(self, request: Any, csrf: str | None) -> str:
        """The acting user's name; 401/403 with one line when the token or CSRF is wrong."""
        if self.token is None:
            raise Rejected(403, "set MLOPS_HOOKS_API_TOKEN to act from the UI")
        user = self.user(request)
        if user is None:
            raise Rejected(401, "sign in with the API token (MLOPS_HOOKS_API_TOKEN): /ui/login")
        if not same(csrf, self.csrf(user)):
            raise Rejected(403, "the form's CSRF token is missing or wrong: reload the page")
        return user

    def csrf(self, user: str | None) -> str | None:
        token = self.token
        return None if token is None or user is None else signed(token, f"csrf:{user}")

    def session_cookie(self, given: str, name: str) -> str:
        """The cookie for a login with ``given`` as the token; 401 when it is wrong."""
        token = self.token
        if token is None:
            raise Rejected(403, "no API token is set (MLOPS_HOOKS_API_TOKEN): no sign-in")
        if not same(given, token):
            raise Rejected(401, "wrong API token")
        name = name.strip() or "someone"
        if not NAME.fullmatch(name):
            raise Rejected(400, "a name is letters, digits, spaces and . _ @ - (up to 64)")
        return f"{name}:{signed(token, f'session:{name}')}"
