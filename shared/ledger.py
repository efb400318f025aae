"""The ledger port: every event recorded once, before it is acknowledged, and never deleted.

States: received -> running -> done | failed -> (running again | dead); ``ignored`` for
authentic deliveries we do not act on. A claimable event has a ``due_at``: when it was
received, when its retry is due, or when the lease of the worker running it expires (so an
event whose worker died is picked up again). Terminal events have no ``due_at``.

Two adapters pass one contract test suite: SQLite (local default) and DynamoDB (AWS).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from mlops_hooks.shared.events import Event, EventKind
from pydantic import BaseModel, Field

HISTORY_LIMIT = 50  # transitions kept per event (DynamoDB items are capped at 400 KB)


class Status(StrEnum):
    RECEIVED = "received"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    IGNORED = "ignored"


CLAIMABLE = frozenset({Status.RECEIVED, Status.FAILED, Status.RUNNING})


class LedgerError(Exception):
    """The ledger refused an operation (unknown event, lost lease, ...)."""


def lease_lost(event_id: str) -> LedgerError:
    return LedgerError(f"event {event_id}: lease lost (another worker reclaimed it)")


class EventRecord(BaseModel):
    """What the ledger knows about one event: the event itself plus its processing story."""

    id: str
    key: str
    kind: EventKind
    source: str
    model: str | None = None
    version: str | None = None
    status: Status
    attempts: int = 0
    deliveries: int = 1
    received_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = None
    worker: str | None = None
    lease_token: str | None = None
    outcome: dict[str, Any] | None = None
    last_error: str | None = None
    event: Event
    history: list[dict[str, Any]] = Field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The flat view used by `events list --json` and GET /events."""
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind.value,
            "source": self.source,
            "status": self.status.value,
            "attempts": self.attempts,
            "deliveries": self.deliveries,
            "model": self.model,
            "version": self.version,
            "received_at": self.received_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "last_error": self.last_error,
        }


class RunState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCESS, RunState.FAILED, RunState.CANCELED)


class JobRun(BaseModel):
    """One launched job run (local subprocess or Databricks), as the ledger keeps it."""

    run_id: str
    job: str  # train, batch_inference, drift_check
    backend: str  # local, databricks
    state: RunState = RunState.PENDING
    event_id: str | None = None  # the event that launched it
    token: str | None = None  # the idempotency token it was launched with
    params: dict[str, str] = Field(default_factory=dict)
    started_at: float
    ended_at: float | None = None
    url: str | None = None  # Databricks run page
    log_path: str | None = None  # local runs
    pid: int | None = None  # local runs
    result: dict[str, Any] = Field(default_factory=dict)  # the job's result line, when it ends
    message: str = ""  # why it failed, or what the backend said
    reported: bool = False  # the reconcile tick has notified its end


@dataclass(frozen=True)
class Hold:
    """Who holds a named guard (a decision, a running retrain), since when, until when."""

    name: str
    holder: str
    since: float
    until: float | None  # None: for good

    def held_by(self, holder: str) -> bool:
        return self.holder == holder


@dataclass(frozen=True)
class Recorded:
    record: EventRecord
    created: bool  # False: the key was already recorded (a duplicate delivery)


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@lru_cache(maxsize=16)
def _stamp(now: float) -> tuple[datetime, str]:
    # every event of a batch is recorded with the same `now`: convert it once
    at = datetime.fromtimestamp(now, UTC)
    return at, at.isoformat()


def first_history_json(record: EventRecord) -> str:
    """The JSON of a new record's one-entry history (a hot path: no json.dumps needed)."""
    entry = record.history[0]
    return f'[{{"at": "{entry["at"]}", "status": "{entry["status"]}"}}]'


def history_entry(now: float, status: Status, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": ts(now).isoformat(), "status": status.value}  # type: ignore[union-attr]
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry


def append_history(history_json: str | None, entry: dict[str, Any]) -> str:
    items = json.loads(history_json or "[]")
    items.append(entry)
    return json.dumps(items[-HISTORY_LIMIT:])


def record_from_row(row: dict[str, Any]) -> EventRecord:
    """Both adapters store the same columns: epoch-second floats, JSON text for documents."""

    def num(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    return EventRecord(
        id=row["id"],
        key=row["key"],
        kind=EventKind(row["kind"]),
        source=row["source"],
        model=row.get("model"),
        version=row.get("version"),
        status=Status(row["status"]),
        attempts=int(row.get("attempts") or 0),
        deliveries=int(row.get("deliveries") or 1),
        received_at=ts(num("received_at")),
        updated_at=ts(num("updated_at")),
        started_at=ts(num("started_at")),
        finished_at=ts(num("finished_at")),
        due_at=ts(num("due_at")),
        worker=row.get("worker"),
        lease_token=row.get("lease_token"),
        outcome=json.loads(row["outcome"]) if row.get("outcome") else None,
        last_error=row.get("last_error"),
        event=Event.model_validate_json(row["event"]),
        history=json.loads(row.get("history") or "[]"),
    )


def initial_status(event: Event) -> Status:
    return Status.IGNORED if event.kind is EventKind.IGNORED else Status.RECEIVED


def new_record(event: Event, now: float) -> EventRecord:
    """The record of a first delivery, built from the event in hand (no read-back).

    Every value here is ours and already typed, so pydantic's validation is skipped: this
    runs once per webhook on the edge's hot path.
    """
    status = initial_status(event)
    at, iso = _stamp(now)
    return EventRecord.model_construct(
        id=event.id,
        key=event.key,
        kind=event.kind,
        source=event.source.value,
        model=event.model,
        version=event.version,
        status=status,
        received_at=at,  # type: ignore[arg-type]
        updated_at=at,  # type: ignore[arg-type]
        due_at=at if status is Status.RECEIVED else None,
        attempts=0,
        deliveries=1,
        event=event,
        history=[{"at": iso, "status": status.value}],
    )


class Ledger(ABC):
    """Durable, de-duplicating event store with leased claims."""

    @abstractmethod
    def record(self, event: Event, *, now: float) -> Recorded:
        """Record the event under its key, durably, before returning. Idempotent."""

    def record_many(self, batch: list[Event], *, now: float) -> list[Recorded]:
        """Record several events; adapters that can commit them together override this."""
        return [self.record(event, now=now) for event in batch]

    @abstractmethod
    def get(self, event_id: str) -> EventRecord | None: ...

    @abstractmethod
    def claim(
        self, event_id: str | None, *, worker: str, token: str, now: float, lease_seconds: float
    ) -> EventRecord | None:
        """Lease a due event (the given one, or the most overdue) to this worker.

        Returns None when nothing is due (or the given event is done, dead, leased to a
        live worker, or waiting for its retry time).
        """

    @abstractmethod
    def heartbeat(self, event_id: str, *, token: str, until: float, now: float) -> bool:
        """Extend the lease; False when it was lost to another worker."""

    def complete(self, event_id: str, *, token: str, outcome: dict[str, Any], now: float) -> None:
        """running -> done. Raises LedgerError if the lease was lost."""
        self._finish(event_id, token, now, Status.DONE, outcome=outcome)

    def fail(
        self, event_id: str, *, token: str, error: str, retry_at: float | None, now: float
    ) -> Status:
        """running -> failed (retry at ``retry_at``) or dead (``retry_at`` None)."""
        status = Status.FAILED if retry_at is not None else Status.DEAD
        self._finish(event_id, token, now, status, error=error, due_at=retry_at)
        return status

    @abstractmethod
    def _finish(
        self,
        event_id: str,
        token: str,
        now: float,
        status: Status,
        *,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
        due_at: float | None = None,
    ) -> None:
        """End a claim: only the holder of ``token`` may; ``due_at`` keeps it claimable."""

    @abstractmethod
    def acquire(self, name: str, holder: str, *, now: float, until: float | None = None) -> Hold:
        """First writer wins: take the guard ``name`` unless someone else holds it.

        Returns the hold in force: ours (newly taken, or already ours - so a retried handler
        passes again) or the other holder's. A hold with ``until`` lapses then and can be taken
        anew; ``until=None`` holds for good (a promotion request's one decision).
        """

    @abstractmethod
    def release(self, name: str, holder: str) -> bool:
        """Give the guard up; only its holder can. False when it was not held by ``holder``."""

    @abstractmethod
    def save_run(self, run: JobRun) -> None:
        """Insert or replace a job run's record."""

    @abstractmethod
    def get_run(self, run_id: str) -> JobRun | None: ...

    @abstractmethod
    def list_runs(self, *, unfinished: bool = False, limit: int = 100) -> list[JobRun]:
        """Newest first; ``unfinished``: only those still pending or running."""

    @abstractmethod
    def requeue(self, event_id: str, *, now: float, reason: str = "replay") -> EventRecord:
        """Any state -> received, attempts reset: the audit history keeps what came before."""

    @abstractmethod
    def list(
        self,
        *,
        status: Status | None = None,
        kind: EventKind | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        """Newest first."""

    def close(self) -> None:  # noqa: B027 - optional for adapters without resources
        """Release connections and threads."""


def open_ledger(url: str, *, endpoint_url: str | None = None) -> Ledger:
    """The one place that maps a ledger URL to its adapter."""
    if url.startswith("sqlite:///"):
        from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger

        return SqliteLedger(url.removeprefix("sqlite:///"))
    if url.startswith("dynamodb://"):
        from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger

        return DynamoDBLedger(url.removeprefix("dynamodb://"), endpoint_url=endpoint_url)
    raise LedgerError(f"unknown ledger URL {url!r}: use sqlite:///path or dynamodb://table")
