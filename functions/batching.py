"""Group commit at the HTTP edge.

Webhooks submitted while a batch is being committed wait together and go into the next
batch: one ledger transaction (one fsync) for the lot, and each request still answers only
once its own event is durable. One batch is in flight at a time.

With SQLite the batch is staged and committed on the event loop (a few microseconds of CPU
an event; the COMMIT writes the log without syncing it) and a helper process syncs the log
(shared/adapters/wal_sync.py): the batch is answered when the helper says so, read by a reader
callback like any socket. No thread of this process waits for the GIL. Without the helper
(``MLOPS_HOOKS_LEDGER_SYNC_HELPER=false``, or once it is gone) the COMMIT is the fsync, run on a
thread. Other ledgers (DynamoDB: network calls) record the whole batch on the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlops_hooks.shared.dispatch import Dispatcher
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.ledger import UNRECORDABLE, LedgerError, Recorded, Unrecordable

Pending = list[tuple[Event, "asyncio.Future[Recorded]"]]
Staged = list[Recorded | Unrecordable]

log = logging.getLogger("mlops_hooks.edge")


class GroupCommit:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._pending: Pending = []
        self._in_flight = False
        self._last_submit = 0.0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-commit")
        make_writer = getattr(dispatcher.ledger, "batch_writer", None)
        self._writer: Any = make_writer() if make_writer else None
        self._syncing: tuple[Pending, Staged] | None = None  # committed, its sync asked for
        self._reader_loop: asyncio.AbstractEventLoop | None = None

    BUSY_SECONDS = 0.05  # a delivery this recent means more are probably on their way

    def busy(self) -> bool:
        """Deliveries are arriving: one is waiting for a batch, or one came in just now (when
        the loop is starved the next ones wait in the socket, where nothing here sees them)."""
        return bool(self._pending) or time.monotonic() - self._last_submit < self.BUSY_SECONDS

    def close(self) -> None:
        self._stop_reading()
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
            self._settle_after(loop, record, batch)
            return
        try:
            staged = self._writer.stage(events, now=self.dispatcher.clock.now())
        except Exception as exc:
            self._settle(loop, batch, exc, None)
            return
        syncer = self._writer.syncer
        if syncer is None:
            self._settle_after(loop, self._writer.commit, batch, staged)
            return
        try:
            self._writer.commit(finish=False)  # written, not yet synced: not answered
        except Exception as exc:  # rolled back: nothing of the batch is recorded
            self._settle(loop, batch, exc, None)
            return
        self._syncing = (batch, staged)
        try:
            self._read_answers(loop, syncer.answers)
            syncer.ask()
        except OSError:  # the helper is gone
            self._sync_here(loop)

    def _read_answers(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        if self._reader_loop is not loop:
            self._stop_reading()
            loop.add_reader(fd, self._synced, loop)
            self._reader_loop = loop

    def _stop_reading(self) -> None:
        syncer = self._writer.syncer if self._writer is not None else None
        if self._reader_loop is not None and syncer is not None:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nothing to undo
                self._reader_loop.remove_reader(syncer.answers)
        self._reader_loop = None

    def _synced(self, loop: asyncio.AbstractEventLoop) -> None:
        """The helper's answer for the batch in flight."""
        answer = self._writer.syncer.read_answer()
        if self._syncing is None:  # nothing asked (the helper ending): only stop reading
            self._stop_reading()
            return
        if answer is None:
            self._sync_here(loop)
            return
        batch, staged = self._syncing
        self._syncing = None
        if answer:
            self._settle(loop, batch, None, staged)
        else:  # committed but maybe not on disk: not acknowledged; the sender retries
            self._settle(loop, batch, LedgerError("the ledger's log could not be synced"), None)

    def _sync_here(self, loop: asyncio.AbstractEventLoop) -> None:
        """The helper is gone: sync the batch in flight on the thread, and let every COMMIT
        from now on sync itself."""
        log.warning("the ledger's sync helper is gone; COMMIT syncs the log from now on")
        self._stop_reading()
        self._writer.sync_by_commit()
        assert self._syncing is not None
        batch, staged = self._syncing
        self._syncing = None
        self._settle_after(loop, self._writer.sync_log, batch, staged)

    def _settle_after(
        self,
        loop: asyncio.AbstractEventLoop,
        work: Callable[[], Any],
        batch: Pending,
        staged: Staged | None = None,
    ) -> None:
        """Run ``work`` on the thread, then settle the batch: with its error, else with
        ``staged`` (what was staged before it), else with what it returned."""

        def done(job: asyncio.Future[Any]) -> None:
            exc = job.exception()
            results = None if exc is not None else staged if staged is not None else job.result()
            self._settle(loop, batch, exc, results)

        loop.run_in_executor(self._thread, work).add_done_callback(done)

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
        if self._writer is not None and self._writer.syncer is not None and self._writer.finish_due:
            # past the log's limit: finish its checkpoint on the thread, the loop serving on
            job = loop.run_in_executor(self._thread, self._writer.finish_checkpoint)
            job.add_done_callback(lambda _: self._next_batch(loop))
            return
        self._next_batch(loop)

    def _next_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pending:
            self._start_batch(loop)
        else:
            self._in_flight = False
