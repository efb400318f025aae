"""Which event ids the SQLite ledger holds, without an index written for every event.

A unique index on a webhook's id is a random B-tree leaf per event: under a flood it cost the
edge about 20 µs of CPU a webhook (an id-index leaf read and written back to the WAL for each
event, where the table itself only appends), the largest single cost of ingress beside a
neighbour (issue 19, docs/benchmark-history.md). So the ledger keeps ids in two parts, like a
log-structured index:

- ``event_ids``, a table of (id, seq) for every row up to a watermark (``ledger_meta``), filled
  in sorted bulk by ``merge``: a merge writes each index leaf once for all the ids that land on
  it, instead of once for each id;
- the *tail*, the rows above the watermark, as a dictionary id -> seq in the memory of each
  process that writes events, loaded from the table (``refresh``) inside every write
  transaction, so a row another process recorded is known before this one decides.

A process with a batch writer (the HTTP edge) also keeps a Bloom filter of every id: it says
"surely new" without a read for almost every new event; "maybe" (a duplicate, or about 1 in
150 by chance) is looked up. Readers in other processes (the CLI) look in ``event_ids`` and
then in the unmerged rows (a range of seqs), which a serving ledger merges every few seconds.

A merge must never make the edge's event loop wait. The checkpointer's thread plans it: it
hands the tail over and reads its rows sorted by id, inside SQLite, which lets go of the GIL.
The steps (250 ids each) then ride on the edge's batch commits, on the commit thread, one a
batch; the checkpointer writes what is left only when no batch took them for a round. (A
merge that took the write lock for its own transactions stalled the loop, which stages each
batch under that lock: p99 41-70 ms instead of 10-14.)
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

WATERMARK = "ids_merged_upto"  # ledger_meta: every row with seq at or below it is in event_ids

# How many ids a merge step writes: a step rides on one of the edge's batch commits (about
# 0.5 ms more for that batch; the event loop never waits for a merge).
MERGE_CHUNK = 250


class BloomFilter:
    """A set of strings that can answer "surely not" or "maybe": 24 bits an entry, 2 probes,
    about 1 false "maybe" in 150 when full.

    Hand-written: no maintained Bloom filter ships in the core's dependencies, and this one
    needs only Python's own string hash (per process, like the filter itself), computed once
    for the question and the insertion together (``seen_or_add``): on the edge's hot path.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = max(64, capacity * 24)
        self.bits = bytearray((self.size + 7) // 8)
        self.count = 0

    def has(self, h: int) -> bool:
        size, bits = self.size, self.bits
        p = (h & 0xFFFFFFFF) % size
        q = ((h & 0xFFFFFFFF) + ((h >> 32) | 1)) % size
        return bool(bits[p >> 3] >> (p & 7) & 1 and bits[q >> 3] >> (q & 7) & 1)

    def put(self, h: int) -> None:
        size, bits = self.size, self.bits
        p = (h & 0xFFFFFFFF) % size
        q = ((h & 0xFFFFFFFF) + ((h >> 32) | 1)) % size
        bits[p >> 3] |= 1 << (p & 7)
        bits[q >> 3] |= 1 << (q & 7)
        self.count += 1


class GrowingBloomFilter:
    """Bloom filters of doubling capacity: a full one is kept and a new one takes the adds, so
    the filter grows with the ledger without ever being rebuilt from the table."""

    def __init__(self, capacity: int) -> None:
        self.filters = [BloomFilter(capacity)]

    def add(self, key: str) -> None:
        self._put(hash(key))

    def _put(self, h: int) -> None:
        last = self.filters[-1]
        if last.count >= last.capacity:
            last = BloomFilter(2 * last.capacity)
            self.filters.append(last)
        last.put(h)

    def __contains__(self, key: str) -> bool:
        h = hash(key)
        return any(f.has(h) for f in self.filters)

    def seen_or_add(self, key: str) -> bool:
        """ "Maybe seen" (True), or "surely new", and from now on known (False)."""
        h = hash(key)
        for f in self.filters:
            if f.has(h):
                return True
        self._put(h)
        return False


WriteTx = Callable[[], AbstractContextManager[sqlite3.Connection]]


class IdIndex:
    """This process's view of the ledger's ids: the unmerged tail in memory (``tail``, and
    ``merging`` while a merge copies it), the merged ids in ``event_ids``, and, in a process
    with a batch writer, a Bloom filter of all of them."""

    def __init__(self) -> None:
        self.tail: dict[str, int] = {}  # id -> seq of rows above what is being merged
        self.merging: dict[str, int] = {}  # the tail a merge is copying into event_ids
        self.merged_upto = 0  # the watermark this process has accounted for
        self.top = 0  # the highest seq this process knows
        self.filter: GrowingBloomFilter | None = None
        self._merge_lock = threading.Lock()  # one plan (or filter build) at a time
        self._plan: _Plan | None = None  # the merge under way
        self._plan_lock = threading.Lock()  # its chunks, taken by the commits of two threads
        self._staged: list[str] = []  # ids added in the open write transaction
        self._staged_top = 0

    # --- reading --------------------------------------------------------------------------

    def open(self, conn: sqlite3.Connection) -> None:
        """Start from the stored watermark; the tail is loaded by the first ``refresh``."""
        self.merged_upto = self.top = stored_watermark(conn)

    def _in_memory(self, event_id: str) -> int | None:
        seq = self.tail.get(event_id)
        return self.merging.get(event_id) if seq is None else seq

    def find(self, conn: sqlite3.Connection, event_id: str) -> int | None:
        """The seq of the row with this id as ``conn`` sees it, for a reader (any thread, any
        process); None if there is none."""
        seq = self._in_memory(event_id)
        if seq is not None and _holds(conn, seq, event_id):
            return seq
        seq = _merged_seq(conn, event_id)
        if seq is not None and _holds(conn, seq, event_id):
            return seq
        row = conn.execute(  # recorded by another process, not merged yet
            "SELECT seq FROM events WHERE id = ?"
            " AND seq > (SELECT value FROM ledger_meta WHERE name = ?)",
            (event_id, WATERMARK),
        ).fetchone()
        return row[0] if row is not None else None

    # --- writing (inside the ledger's write transaction) ----------------------------------

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Load the rows other connections added since this process last looked. Called at
        the start of each write transaction: nobody else can add one until it ends."""
        self._staged, self._staged_top = [], self.top
        for seq, event_id in conn.execute(
            "SELECT seq, id FROM events WHERE seq > ? ORDER BY seq", (self.top,)
        ):
            self._remember(event_id, seq)

    def find_for_write(self, conn: sqlite3.Connection, event_id: str) -> int | None:
        """Like ``find``, after ``refresh``: the tail is complete, and the Bloom filter (when
        built) spares every lookup for an id that is surely new."""
        bloom = self.filter
        if bloom is not None and not bloom.seen_or_add(event_id):
            return None  # surely new (and in the filter from now on)
        seq = self._in_memory(event_id)
        return seq if seq is not None else _merged_seq(conn, event_id)

    def added(self, event_id: str, seq: int) -> None:
        """A row this transaction inserted (after ``find_for_write``, which put its id in the
        Bloom filter)."""
        self.tail[event_id] = seq
        self.top = seq  # seqs only grow
        self._staged.append(event_id)

    def _remember(self, event_id: str, seq: int) -> None:
        self.tail[event_id] = seq
        self.top = seq
        bloom = self.filter
        if bloom is not None:
            bloom.add(event_id)

    def committed(self) -> None:
        """The write transaction committed: its rows stay."""
        self._staged = []

    def rolled_back(self) -> None:
        """The write transaction did not commit: forget the rows it added (the Bloom filter
        keeps them: a "maybe" too many costs one lookup)."""
        for event_id in self._staged:
            self.tail.pop(event_id, None)
        self.top = self._staged_top
        self._staged = []

    # --- merging ---------------------------------------------------------------------------

    def plan_merge(self, conn: sqlite3.Connection, lock: threading.Lock) -> int:
        """Hand the tail over to a merge and read its rows sorted by id (inside SQLite, which
        lets go of the GIL), in chunks that ``merge_step`` writes; returns how many rows. A
        merge already under way is left to finish (0). ``conn`` is a connection of this process
        outside any transaction, ``lock`` the process's write lock (no write transaction is
        open while the tail is handed over)."""
        with self._merge_lock:
            if self._plan is not None:
                return 0
            with lock:
                if self.merging:  # a plan that failed to read: take its rows again
                    self.merging.update(self.tail)
                else:
                    self.merging = self.tail
                self.tail = {}
                top = self.top
            start = max(self.merged_upto, stored_watermark(conn))  # another may have merged
            if top <= start:
                self.merged_upto, self.merging = top, {}
                return 0
            # each chunk one JSON text, made by SQLite: a step is then one statement, which
            # holds the GIL once, not once a row (the commit thread and the event loop take
            # turns at it on two cores)
            chunks = deque(
                row[0]
                for row in conn.execute(
                    "SELECT json_group_array(json_array(id, seq)) FROM ("
                    " SELECT id, seq, (row_number() OVER (ORDER BY id) - 1) / ? AS chunk"
                    " FROM events WHERE seq > ? AND seq <= ?) GROUP BY chunk ORDER BY chunk",
                    (MERGE_CHUNK, start, top),
                )
            )
            self._plan = _Plan(top, chunks)
            # every chunk but the last is full: no second pass over the rows to count them
            return MERGE_CHUNK * (len(chunks) - 1) + len(json.loads(chunks[-1])) if chunks else 0

    def merge_step(self, conn: sqlite3.Connection) -> MergeStep | None:
        """Write the next chunk of the merge under way into the write transaction open on
        ``conn`` (the caller holds the write lock), or, once every chunk is committed, the new
        watermark. The caller reports the step's fate: ``step_done`` or ``step_undone``."""
        plan = self._plan
        if plan is None:
            return None
        with self._plan_lock:
            if plan.chunks:
                chunk = plan.chunks.popleft()
                plan.in_flight += 1
            elif plan.in_flight:
                return None  # the last chunks are not committed yet
            else:
                chunk = None
        step = MergeStep(plan, chunk)
        try:
            if chunk is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO event_ids (id, seq)"
                    " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
                    " FROM json_each(?)",
                    (chunk,),
                )
            else:  # every row up to ``top`` is in event_ids now
                conn.execute(
                    "UPDATE ledger_meta SET value = max(value, ?) WHERE name = ?",
                    (plan.top, WATERMARK),
                )
        except BaseException:
            self.step_undone(step)
            raise
        return step

    def step_done(self, step: MergeStep) -> None:
        """The step's transaction committed."""
        with self._plan_lock:
            if step.chunk is not None:
                step.plan.in_flight -= 1
            elif self._plan is step.plan:  # the watermark: the merge is over
                self.merged_upto, self.merging, self._plan = step.plan.top, {}, None

    def step_undone(self, step: MergeStep) -> None:
        """The step's transaction rolled back: its chunk goes back to the front."""
        if step.chunk is not None:
            with self._plan_lock:
                step.plan.chunks.appendleft(step.chunk)
                step.plan.in_flight -= 1

    @property
    def merge_pending(self) -> bool:
        return self._plan is not None

    def finish_merge(self, write: WriteTx) -> None:
        """Write every step left of the merge under way, a transaction each (a process with no
        batch writer's commits to carry them, or a writer left idle)."""
        while self._plan is not None:
            step = None
            try:
                with write() as tx:
                    step = self.merge_step(tx)
            except BaseException:
                if step is not None:
                    self.step_undone(step)
                raise
            if step is None:
                return  # chunks in flight in another thread's transaction
            self.step_done(step)

    def merge(self, conn: sqlite3.Connection, write: WriteTx, lock: threading.Lock) -> int:
        """A whole merge, here and now; returns how many rows it covered."""
        count = self.plan_merge(conn, lock)
        self.finish_merge(write)
        return count

    def build_filter(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        """Fill a Bloom filter with every id (a scan of ``event_ids``: about a second for a
        million), so that ``find_for_write`` skips the lookup for new ids. Called when a
        batch writer opens, before it serves."""
        with self._merge_lock:
            if self.filter is not None:
                return
            with lock:  # a merge under way may finish during the scan: its ids, from here
                before = [*self.merging, *self.tail]
            count = conn.execute("SELECT count(*) FROM event_ids").fetchone()[0]
            bloom = GrowingBloomFilter(max(2 * count, 1 << 20))
            for (event_id,) in conn.execute("SELECT id FROM event_ids"):
                bloom.add(event_id)
            with lock:  # what the tail holds now, and from here on every id it is given
                for event_id in (*before, *self.merging, *self.tail):
                    bloom.add(event_id)
                self.filter = bloom


@dataclass
class _Plan:
    top: int  # the watermark once every chunk is in
    chunks: deque[str]  # JSON arrays of [id, seq], sorted by id, not yet written
    in_flight: int = 0  # chunks written in a transaction not yet committed


@dataclass(frozen=True)
class MergeStep:
    """One chunk of a merge (or its watermark), written inside a batch's transaction: the
    batch writer carries it and reports back whether its COMMIT succeeded."""

    plan: _Plan
    chunk: str | None  # None: the watermark


def _merged_seq(conn: sqlite3.Connection, event_id: str) -> int | None:
    """The seq ``event_ids`` holds for this id, if it has merged it."""
    row = conn.execute("SELECT seq FROM event_ids WHERE id = ?", (event_id,)).fetchone()
    return row[0] if row is not None else None


def _holds(conn: sqlite3.Connection, seq: int, event_id: str) -> bool:
    """The row at ``seq`` is this event's (a seq can be stale: a rolled-back or expired row)."""
    found = conn.execute("SELECT 1 FROM events WHERE seq = ? AND id = ?", (seq, event_id))
    return found.fetchone() is not None


def stored_watermark(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM ledger_meta WHERE name = ?", (WATERMARK,)).fetchone()
    return row[0] if row is not None else 0
