"""What every process has: a clock, and a queue that wakes whoever drains the ledger."""

from __future__ import annotations

import time
from typing import Protocol


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
