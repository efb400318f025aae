"""The ports handlers talk through, and the bundle of them a handler receives.

The ledger, queue, clock and notifier have adapters; the registry, jobs and tables ports get
theirs with the validation, promotion and jobs issues. Until then those
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


@dataclass(frozen=True)
class ModelVersion:
    """What the registry says about one model version."""

    name: str
    version: str
    status: str  # READY, PENDING_REGISTRATION, FAILED_REGISTRATION
    source: str | None = None
    run_id: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    stage: str | None = None


class Registry(Protocol):
    """A model registry: MLflow OSS, or a Databricks workspace."""

    def get_version(self, name: str, version: str) -> ModelVersion: ...

    def wait_ready(self, name: str, version: str, *, timeout: float = 300) -> ModelVersion: ...

    def load_model(self, name: str, version: str) -> Any: ...

    def write_report(self, name: str, version: str, section: str, markdown: str) -> None: ...

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None: ...

    def get_alias(self, name: str, alias: str) -> str | None: ...

    def set_alias(self, name: str, alias: str, version: str) -> None: ...

    def version_url(self, name: str, version: str) -> str | None: ...


@dataclass(frozen=True)
class Notification:
    """A message for people: a verdict, a short text, some facts and a link to act on."""

    title: str
    text: str
    verdict: str = "info"  # "passed", "failed", "info", "warning"
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. the failing checks
    link_url: str | None = None
    link_label: str = "Open"


class Notifier(Protocol):
    def notify(self, message: Notification) -> None: ...


class LogNotifier:
    """The default when no Slack is configured: the message goes to the log."""

    def __init__(self) -> None:
        import logging

        self.log = logging.getLogger("mlops_hooks.notify")

    def notify(self, message: Notification) -> None:
        problems = f" problems: {', '.join(message.problems)}" if message.problems else ""
        self.log.info("[%s] %s: %s%s", message.verdict, message.title, message.text, problems)


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
