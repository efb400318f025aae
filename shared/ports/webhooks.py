"""The webhooks port: register (or update in place) the registry webhooks that point here.

The signing secret never travels in an event: the adapter reads it from settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Registered:
    id: str
    url: str
    events: list[str]
    created: bool


@dataclass(frozen=True)
class Checked:
    """What a test delivery showed: ``ok`` only if it arrived, was verified and recorded."""

    ok: bool
    webhook: str  # "<id> -> <url>"
    said: str  # one line: what happened, and the cause when it failed
    event_id: str | None = None  # the ledger's record of the test delivery


class Webhooks(Protocol):
    def register(
        self,
        registry: str,
        *,
        url: str,
        events: list[str] | None,
        name: str,
        model: str | None,
        workspace: str | None = None,
    ) -> Registered:
        """``registry``: "mlflow" or "databricks"; ``events`` None: the ones we act on;
        ``workspace``: the MLflow 3 workspace the webhook belongs to."""
        ...

    def check(self, *, url: str | None, name: str, workspace: str | None = None) -> Checked:
        """Ask the MLflow server to send our webhook its test delivery, and say what came of
        it (raises WebhookProblem, one line, when the server or the webhook cannot be used)."""
        ...
