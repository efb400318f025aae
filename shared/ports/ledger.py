"""The ledger ports: every event recorded once, before it is acknowledged, and never deleted.

States: received -> running -> done | failed -> (running again | dead); ``ignored`` for
authentic deliveries we do not act on. A claimable event has a ``due_at``: when it was
received, when its retry is due, or when the lease of the worker running it expires (so an
event whose worker died is picked up again). Terminal events have no ``due_at``.

Two adapters pass one contract test suite: SQLite (local default) and DynamoDB (AWS).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from mlops_hooks.shared.domain.errors import MlopsHooksError
from mlops_hooks.shared.domain.events import Event, EventKind


class Status(StrEnum):
    RECEIVED = "received"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"
    IGNORED = "ignored"


CLAIMABLE = frozenset({Status.RECEIVED, Status.FAILED, Status.RUNNING})


class LedgerError(MlopsHooksError):
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
            "task": self.event.task,
            "user": self.event.payload.get("user") if self.kind is EventKind.ACTION else None,
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


# What an event that cannot be stored raises (not the store failing): a document that does not
# serialise (too deep, a lone surrogate), a value the store will not bind.
UNRECORDABLE = (ValueError, TypeError, RecursionError, UnicodeError, OverflowError)


@dataclass(frozen=True)
class Unrecordable:
    """In a batch's results: this event could not be stored (the others were)."""

    error: BaseException


def initial_status(event: Event) -> Status:
    return Status.IGNORED if event.kind is EventKind.IGNORED else Status.RECEIVED


@lru_cache(maxsize=16)
def stamp(now: float) -> tuple[datetime, str]:
    """``now`` as a datetime and its ISO text: every event of a batch is recorded with the
    same ``now``, so it is converted once."""
    at = datetime.fromtimestamp(now, UTC)
    return at, at.isoformat()


def new_record(event: Event, now: float) -> EventRecord:
    """The record of a first delivery, built from the event in hand (no read-back).

    Validated, not ``model_construct``-ed: pydantic's compiled validation (the event passes as
    the instance it is) takes 5-8 µs where ``model_construct``, which fills each field in
    Python, takes 12 (pydantic 2.14).
    """
    status = initial_status(event)
    at, iso = stamp(now)
    return EventRecord(
        id=event.id,
        key=event.key,
        kind=event.kind,
        source=event.source.value,
        model=event.model,
        version=event.version,
        status=status,
        received_at=at,
        updated_at=at,
        due_at=at if status is Status.RECEIVED else None,
        attempts=0,
        deliveries=1,
        event=event,
        history=[{"at": iso, "status": status.value}],
    )


class Recorded:
    """What recording one delivery gave: the event's record, and whether this delivery
    created it (False: the key was already recorded, a duplicate delivery).

    A first delivery's record is the event plus a known start, so ``Recorded.first`` builds
    it only when someone reads ``record``: the HTTP edge answers from ``id``, ``kind`` and
    ``status`` alone, and building the pydantic record cost 8 µs of the edge's ~90 µs of CPU
    a webhook (bench/ingress.py, issue 19).
    """

    __slots__ = ("_event", "_now", "_record", "created", "id", "kind", "status")

    def __init__(self, record: EventRecord, created: bool) -> None:
        self._record: EventRecord | None = record
        self.created = created
        self.id, self.kind, self.status = record.id, record.kind, record.status

    @classmethod
    def first(cls, event: Event, now: float) -> Recorded:
        """The first delivery of ``event``, recorded at ``now``."""
        self = cls.__new__(cls)
        self._record, self._event, self._now, self.created = None, event, now, True
        self.id, self.kind, self.status = event.id, event.kind, initial_status(event)
        return self

    @property
    def record(self) -> EventRecord:
        if self._record is None:
            self._record = new_record(self._event, self._now)
        return self._record

    def __repr__(self) -> str:
        return f"Recorded(id={self.id!r}, status={self.status.value!r}, created={self.created})"


class EventLog(ABC):
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
    def due_ids(self, before: float, *, limit: int = 100) -> list[str]:
        """Events due to run since ``before`` or earlier (received, retry due, lease expired):
        those whose wake-up was lost, for the tick to wake again. Most overdue first."""

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
    def requeue(self, event_id: str, *, now: float, reason: str = "replay") -> EventRecord:
        """Any state -> received, attempts reset: the audit history keeps what came before."""

    @abstractmethod
    def list(
        self,
        *,
        status: Status | None = None,
        kind: EventKind | None = None,
        limit: int = 100,
        everything: bool = True,
        model: str | None = None,
    ) -> list[EventRecord]:
        """Newest first; ``everything=False``: only what ``events.is_listed_by_default``
        keeps (no own-write echoes, no housekeeping ticks); ``model``: about that model."""

    def models(self) -> list[str]:
        """Every model the ledger has an event about (the web UI's list). The default reads
        the newest events; an adapter that can ask its store directly does."""
        return sorted({r.model for r in self.list(limit=5000) if r.model})

    def children(self, event_id: str) -> list[EventRecord]:
        """The events ``event_id`` emitted (their ``parent_id``), newest first."""
        return [r for r in self.list(limit=5000) if r.event.parent_id == event_id]

    def expire_ticks(self, *, now: float) -> int:
        """Delete finished housekeeping ticks (reconcile, sweep) older than the ledger's tick
        retention; returns how many. The default does nothing: DynamoDB's TTL expires them."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional for adapters without resources
        """Release connections and threads."""


class Guards(ABC):
    """Named holds, first writer wins: one decision per request, one retraining at a time."""

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


class JobRuns(ABC):
    """The job runs events launched (local subprocesses, Databricks runs)."""

    @abstractmethod
    def save_run(self, run: JobRun) -> None:
        """Insert or replace a job run's record."""

    @abstractmethod
    def get_run(self, run_id: str) -> JobRun | None: ...

    @abstractmethod
    def list_runs(self, *, unfinished: bool = False, limit: int = 100) -> list[JobRun]:
        """Newest first; ``unfinished``: only those still pending or running."""


class Cursors(ABC):
    """Named positions in someone else's history (the registry sweep's watermark), saved
    only once what was found before them is recorded."""

    @abstractmethod
    def get_cursor(self, name: str) -> str | None:
        """The saved position (a JSON document the owner reads), or None: never saved."""

    @abstractmethod
    def save_cursor(self, name: str, value: str, *, now: float) -> None:
        """Insert or replace the position."""


class Ledger(EventLog, Guards, JobRuns, Cursors):
    """One store behind the four ports (SQLite locally, DynamoDB on AWS): the adapters
    implement them together, so a handler's writes to all of them share one backend."""
