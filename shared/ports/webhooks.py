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
