"""Group commit at the HTTP edge.

Webhooks submitted while a batch is being committed wait together and go into the next
batch: one ledger transaction (one fsync) for the lot, and each request still answers only
once its own event is durable. One batch is in flight at a time.

With SQLite the inserts are staged on the event loop (a few microseconds of CPU each) and
only the COMMIT - the fsync, during which SQLite releases the GIL - runs on a thread: one GIL
hand-off per batch instead of one per statement. Other ledgers (DynamoDB: network calls)
record the whole batch on the thread.
"""

from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_hooks.shared.dispatch import Dispatcher
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.ledger import UNRECORDABLE, Recorded, Unrecordable

Pending = list[tuple[Event, "asyncio.Future[Recorded]"]]


class GroupCommit:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._pending: Pending = []
        self._in_flight = False
        self._last_submit = 0.0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-commit")
        make_writer = getattr(dispatcher.ledger, "batch_writer", None)
        self._writer: Any = make_writer() if make_writer else None

    BUSY_SECONDS = 0.05  # a delivery this recent means more are probably on their way

    def busy(self) -> bool:
        """Deliveries are arriving: one is waiting for a batch, or one came in just now (when
        the loop is starved the next ones wait in the socket, where nothing here sees them)."""
        return bool(self._pending) or time.monotonic() - self._last_submit < self.BUSY_SECONDS

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        if self._writer is not None:
            self._writer.close()

    async def submit(self, event: Event) -> Recorded:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Recorded] = loop.create_future()
        self._pending.append((event, done))
        self._last_submit = time.monotonic()
        if not self._in_flight:
            self._in_flight = True
            loop.call_soon(self._start_batch, loop)  # let this turn's requests join first
        return await done

    def _start_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending, []
        events = [event for event, _ in batch]
        if self._writer is None:  # a networked ledger: one write per event anyway
            record = functools.partial(self._record_each, events, self.dispatcher.clock.now())
            job = loop.run_in_executor(self._thread, record)
            job.add_done_callback(
                lambda j: self._settle(
                    loop, batch, j.exception(), None if j.exception() else j.result()
                )
            )
            return
        try:
            staged = self._writer.stage(events, now=self.dispatcher.clock.now())
        except Exception as exc:
            self._settle(loop, batch, exc, None)
            return
        job = loop.run_in_executor(self._thread, self._writer.commit)
        job.add_done_callback(lambda j: self._settle(loop, batch, j.exception(), staged))

    def _record_each(self, events: list[Event], now: float) -> list[Recorded | Unrecordable]:
        """Each event on its own: one that cannot be stored fails alone (as Unrecordable);
        the store itself failing fails the rest, unacknowledged, for their senders to retry."""
        out: list[Recorded | Unrecordable] = []
        for event in events:
            try:
                out.append(self.dispatcher.ledger.record(event, now=now))
            except UNRECORDABLE as exc:
                out.append(Unrecordable(exc))
        return out

    def _settle(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: Pending,
        exc: BaseException | None,
        results: list[Recorded | Unrecordable] | None,
    ) -> None:
        if exc is None and results is not None:
            self.dispatcher.wake([r for r in results if isinstance(r, Recorded)])
        for n, (_, fut) in enumerate(batch):
            if fut.done():
                continue
            if exc is not None or results is None:  # nothing was recorded: say so to all
                fut.set_exception(exc or RuntimeError("batch not recorded"))
            elif isinstance(results[n], Unrecordable):  # this one alone
                fut.set_exception(results[n].error)
            else:
                fut.set_result(results[n])
        if self._pending:
            self._start_batch(loop)
        else:
            self._in_flight = False
