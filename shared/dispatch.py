"""Dispatch: claim an event from the ledger, run its handler, record what happened.

Failures are retried with exponential backoff up to ``max_attempts``, then the event is
``dead`` (kept, visible, replayable). A long handler keeps its lease alive with heartbeats;
if the process dies the lease runs out and another worker picks the event up again.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlops_hooks.shared.domain.errors import is_retryable
from mlops_hooks.shared.domain.events import Event, EventKind
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.ledger import EventRecord, Ledger, Recorded, Status
from mlops_hooks.shared.ports.outcome import Handler, Outcome
from mlops_hooks.shared.ports.runtime import Clock, Queue

log = logging.getLogger("mlops_hooks.dispatch")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: base * 2^(attempt-1), capped."""
        return min(self.max_seconds, self.base_seconds * 2 ** max(0, attempt - 1))


class Dispatcher:
    def __init__(
        self,
        ledger: Ledger,
        handlers: Mapping[EventKind, Handler],
        deps: Deps,
        *,
        queue: Queue,
        retry: RetryPolicy,
        lease_seconds: float = 60.0,
    ) -> None:
        self.ledger = ledger
        self.handlers = dict(handlers)
        self.deps = deps
        self.queue = queue
        self.retry = retry
        self.lease_seconds = lease_seconds

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    # --- intake ------------------------------------------------------------------------

    def submit(self, event: Event) -> Recorded:
        """Record durably (idempotent by key) and wake a worker if there is work."""
        return self.submit_many([event])[0]

    def submit_many(self, batch: list[Event]) -> list[Recorded]:
        """Record a batch (one commit where the ledger can) and wake workers for its work.

        A duplicate of an event that is still waiting wakes a worker too: if the first wake-up
        was lost (the queue was down after the ledger write), the sender's retry repairs it.
        """
        recorded = self.ledger.record_many(batch, now=self.clock.now())
        self.wake(recorded)
        return recorded

    def wake(self, recorded: list[Recorded]) -> None:
        """Tell the queue about every recorded event that is waiting to run."""
        for r in recorded:
            if r.record.status is Status.RECEIVED:
                self.queue.notify(r.record.id)

    def replay(self, event_id: str) -> EventRecord:
        record = self.ledger.requeue(event_id, now=self.clock.now())
        self.queue.notify(event_id)
        return record

    # --- processing --------------------------------------------------------------------

    def process(self, event_id: str | None = None, *, worker: str = "worker") -> EventRecord | None:
        """Claim one due event (the given one, or the most overdue) and run it.

        Returns the event's record after processing, or None when nothing was claimable.
        """
        token = uuid.uuid4().hex
        claimed = self.ledger.claim(
            event_id,
            worker=worker,
            token=token,
            now=self.clock.now(),
            lease_seconds=self.lease_seconds,
        )
        if claimed is None:
            return None
        stop_heartbeat = self._start_heartbeat(claimed.id, token)
        try:
            self._run(claimed, token)
        finally:
            stop_heartbeat()
        return self.ledger.get(claimed.id)

    def _run(self, record: EventRecord, token: str) -> None:
        event = record.event
        handler = self.handlers.get(event.kind)
        now = self.clock.now
        if handler is None:
            outcome = Outcome(result="skipped", summary=f"no handler for {event.kind.value}")
            self.ledger.complete(record.id, token=token, outcome=outcome.as_json([]), now=now())
            return
        try:
            outcome = handler(event, self.deps) or Outcome()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            retry_at = None
            if is_retryable(exc) and record.attempts < self.retry.max_attempts:
                retry_at = now() + self.retry.delay(record.attempts)
            status = self.ledger.fail(
                record.id, token=token, error=error, retry_at=retry_at, now=now()
            )
            log.warning(
                "event %s (%s) attempt %d failed: %s -> %s",
                record.id,
                event.kind.value,
                record.attempts,
                error,
                status.value,
            )
            log.debug("handler traceback:\n%s", traceback.format_exc())
            return
        emitted = []
        for follow_up in outcome.emit:
            child = follow_up.model_copy(update={"parent_id": record.id})
            emitted.append(self.submit(child).record.id)
        self.ledger.complete(record.id, token=token, outcome=outcome.as_json(emitted), now=now())
        for event_id in outcome.wake:
            self.queue.notify(event_id)

    def _start_heartbeat(self, event_id: str, token: str) -> Callable[[], None]:
        stop = threading.Event()
        interval = self.lease_seconds / 3

        def beat() -> None:
            while not stop.wait(interval):
                now = self.clock.now()
                if not self.ledger.heartbeat(
                    event_id, token=token, until=now + self.lease_seconds, now=now
                ):
                    return

        thread = threading.Thread(target=beat, name=f"lease-{event_id}", daemon=True)
        thread.start()

        def stop_it() -> None:
            stop.set()
            thread.join(timeout=5)

        return stop_it


class WorkerPool:
    """Threads in the server process that drain the ledger; woken by new events, else poll."""

    def __init__(self, *, size: int, poll_seconds: float) -> None:
        self.dispatcher: Dispatcher | None = None
        self.size = size
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.node = uuid.uuid4().hex[:8]

    def notify(self, event_id: str) -> None:  # the local Queue adapter
        self._wake.set()

    def start(self, dispatcher: Dispatcher) -> None:
        """Start draining; the pool is the dispatcher's queue, so it is built before it."""
        self.dispatcher = dispatcher
        for n in range(self.size):
            t = threading.Thread(
                target=self._loop, args=(f"{self.node}-{n}",), name=f"mlops-worker-{n}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def _loop(self, worker: str) -> None:
        assert self.dispatcher is not None
        while not self._stop.is_set():
            self._wake.clear()  # a notify() from here on wakes the wait below
            try:
                processed = self.dispatcher.process(worker=worker)
            except Exception:  # the ledger itself failed: log, back off, keep serving
                log.exception("worker %s: ledger error", worker)
                processed = None
            if processed is None:
                self._wake.wait(self.poll_seconds)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=timeout)
