"""Dispatch: claim an event from the ledger, run its handler, record what happened.

Failures are retried with exponential backoff up to ``max_attempts``, then the event is
``dead`` (kept, visible, replayable). A long handler keeps its lease alive with heartbeats;
if the process dies the lease runs out and another worker picks the event up again.
"""

from __future__ import annotations

import logging
import threading
import time
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
        self._leases = LeaseKeeper(self)
        # held by serve's warm-up while it imports MLflow and scikit-learn: a handler waits for
        # those imports instead of racing them (two threads importing mlflow's submodules at
        # once can see a partially initialised module: "partially initialized module 'mlflow'
        # has no attribute 'version'" failed a webhook registration in a suite run)
        self.warming = threading.Lock()

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
            if r.status is Status.RECEIVED:
                self.queue.notify(r.id)

    def replay(self, event_id: str) -> EventRecord:
        record = self.ledger.requeue(event_id, now=self.clock.now())
        self.queue.notify(event_id)
        return record

    # --- processing --------------------------------------------------------------------

    def process(
        self, event_id: str | None = None, *, worker: str = "worker", refresh: bool = True
    ) -> EventRecord | None:
        """Claim one due event (the given one, or the most overdue) and run it.

        Returns the event's record after processing (``refresh=False``: as it was claimed,
        saving a read for a caller that only asks whether there was work), or None when
        nothing was claimable.
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
        self._leases.hold(claimed.id, token)
        try:
            self._run(claimed, token)
        finally:
            self._leases.release(claimed.id)
        return self.ledger.get(claimed.id) if refresh else claimed

    def _run(self, record: EventRecord, token: str) -> None:
        event = record.event
        handler = self.handlers.get(event.kind)
        now = self.clock.now
        if handler is None:
            outcome = Outcome(result="skipped", summary=f"no handler for {event.kind.value}")
            self.ledger.complete(record.id, token=token, outcome=outcome.as_json([]), now=now())
            return
        try:
            policy: str | None = self.deps.loaded_policy().digest  # what it decided under
        except Exception:  # an unreadable policy: a handler that needs it says why
            policy = None
        with self.warming:  # free at once unless the warm-up is importing
            pass
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
        children = [e.model_copy(update={"parent_id": record.id}) for e in outcome.emit]
        emitted = [r.id for r in self.submit_many(children)] if children else []
        for name, value in outcome.cursors.items():  # only past what is recorded
            self.ledger.save_cursor(name, value, now=now())
        self.ledger.complete(
            record.id, token=token, outcome=outcome.as_json(emitted, policy), now=now()
        )
        for event_id in outcome.wake:
            self.queue.notify(event_id)


class LeaseKeeper:
    """Renews the leases of the events this process is running, from one thread.

    Every lease_seconds / 3 it extends each running event's lease; an event whose lease was
    lost (taken over after a stall) is dropped and its handler's result is refused at the end.
    One thread for all, started on first use, instead of one per event: starting and joining a
    thread per event cost more than recording it.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._held: dict[str, str] = {}  # event id -> lease token
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, event_id: str, token: str) -> None:
        with self._lock:
            self._held[event_id] = token
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="leases", daemon=True)
                self._thread.start()

    def release(self, event_id: str) -> None:
        with self._lock:
            self._held.pop(event_id, None)

    def _beat(self) -> None:
        d = self.dispatcher
        while True:
            time.sleep(d.lease_seconds / 3)
            with self._lock:
                if not self._held:  # idle: end; the next hold starts a new thread
                    self._thread = None
                    return
                held = list(self._held.items())
            for event_id, token in held:
                now = d.clock.now()
                try:
                    kept = d.ledger.heartbeat(
                        event_id, token=token, until=now + d.lease_seconds, now=now
                    )
                except Exception:  # the ledger is down: try again next beat
                    log.exception("lease renewal of %s failed", event_id)
                    continue
                if not kept:
                    self.release(event_id)


class WorkerPool:
    """Threads in the server process that drain the ledger; woken by new events, else poll.

    Accepting comes first: while ``edge_busy()`` says the HTTP edge has deliveries waiting,
    a worker pauses after each event for ``yield_ratio`` (4) times as long as it took, so
    the threads (one GIL) leave the edge most of the CPU in a burst and catch up after it.
    A sender that is answered late retries and gives up (MLflow: after 3 retries); an event
    that is processed late is only late.
    """

    def __init__(
        self,
        *,
        size: int,
        poll_seconds: float,
        edge_busy: Callable[[], bool] | None = None,
        yield_ratio: float = 4.0,
    ) -> None:
        self.dispatcher: Dispatcher | None = None
        self.size = size
        self.poll_seconds = poll_seconds
        self.edge_busy = edge_busy
        self.yield_ratio = yield_ratio
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
            started = time.monotonic()
            try:
                processed = self.dispatcher.process(worker=worker, refresh=False)
            except Exception:  # the ledger itself failed: log, back off, keep serving
                log.exception("worker %s: ledger error", worker)
                processed = None
            if processed is None:
                self._wake.wait(self.poll_seconds)
            elif self.edge_busy is not None and self.edge_busy():
                took = time.monotonic() - started
                self._stop.wait(min(0.05, took * self.yield_ratio))

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=timeout)
