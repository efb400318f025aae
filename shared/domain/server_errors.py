"""One readable line for a server that could not be used: which server, and why.

Clients (mlflow's REST client, requests, urllib3) wrap the cause in several layers of
"Max retries exceeded ... Caused by ..."; the user needs "the MLflow server at URL does not
answer (connection refused)". Hand-written because no client library says it this way: it
reads their messages' well-known phrases.
"""

from __future__ import annotations

import re

# (phrase in the client's message, what it means), the first match wins
CAUSES = [
    ("Connection refused", "connection refused (is it running on that port?)"),
    ("Name or service not known", "host not found"),
    ("nodename nor servname", "host not found"),
    ("Temporary failure in name resolution", "host not found"),
    ("No route to host", "no route to host"),
    ("Read timed out", "it did not answer in time"),
    ("timed out", "it did not answer in time"),
    ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted"),
    ("too many 500 error responses", "it answered 500 (an internal error; its log says why)"),
    ("too many 502 error responses", "it answered 502 (a proxy in front of it)"),
    ("too many 503 error responses", "it answered 503 (unavailable)"),
    ("too many 429 error responses", "it answered 429 (rate limited)"),
]
_STATUS = re.compile(r"error code (\d{3})")
_OUR_ERROR = re.compile(r"^(WebhookProblem|ConfigError|PermanentError|PortMissing): ")


def cause_of(exc: BaseException | str) -> str:
    """The cause in a few words, or the error's own first line."""
    text = str(exc)
    for phrase, meaning in CAUSES:
        if phrase in text:
            return meaning
    status = _STATUS.search(text)
    if status:
        return f"it answered {status.group(1)}"
    first = text.strip().splitlines()
    line = first[0][:300] if first else ""
    if isinstance(exc, str):  # a recorded error: "WebhookProblem: the MLflow server ..."
        line = _OUR_ERROR.sub("", line)
    return line if isinstance(exc, str) else f"{type(exc).__name__}: {line}"


def unusable(server: str, url: str | None, exc: BaseException) -> str:
    """ "the MLflow server at URL: connection refused (...)"."""
    where = f"the {server} at {url}" if url else f"the {server}"
    return f"{where}: {cause_of(exc)}"


ENCRYPTION_KEY = (
    "its webhooks API answers 500 while the rest of it works: most likely the server's "
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY is not the one the webhook secrets were stored with "
    "(InvalidToken in its log); start it with that key again, or delete its webhooks and "
    "register them again"
)


def is_internal_error(exc: BaseException) -> bool:
    text = str(exc)
    return "too many 500 error responses" in text or "error code 500" in text
