"""The ports handlers talk through, and the bundle of them a handler receives.

Only the ledger, the queue and the clock have adapters so far; the registry, jobs, notifier
and tables ports get theirs with the validation, promotion and jobs issues. Until then those
fields are None and a handler that needs one fails with a clear error (see ``Deps.need``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.ledger import Ledger
from shared.settings import Settings


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class Queue(Protocol):
    """Wakes whoever drains the ledger: the local worker pool, or the SQS worker function."""

    def notify(self, event_id: str) -> None: ...


class NoQueue:
    """For one-shot processes (CLI) where nothing waits to be woken."""

    def notify(self, event_id: str) -> None:
        return None


@dataclass
class Deps:
    """Everything a handler may use. Built by bootstrap; tests pass fakes."""

    settings: Settings
    ledger: Ledger
    clock: Clock = field(default_factory=SystemClock)
    registry: Any = None
    jobs: Any = None
    notifier: Any = None
    tables: Any = None

    def need(self, name: str) -> Any:
        port = getattr(self, name)
        if port is None:
            raise RuntimeError(f"the {name} port is not configured in this deployment")
        return port
