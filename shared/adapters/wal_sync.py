"""Syncs the ledger's write-ahead log from a helper process, for the edge's group commit.

The edge commits a batch on its event loop without a sync (synchronous=NORMAL: the WAL frames
are written, nothing is flushed), asks the helper for an ``fdatasync`` of the WAL file and
acknowledges the batch's webhooks once the helper says it returned: what SQLite's
synchronous=FULL does inside COMMIT, with the same guarantee for every acknowledged event.

Why a process and not a thread: a thread that runs the fsync has to take the GIL back
afterwards while the event loop holds it. The loop hands the GIL over many times a request,
and each hand-over woke the waiting thread, which found it taken again: about one wake-up a
webhook, a median 1.3 ms before the batch could be answered, and 4-5 us of futex calls a
webhook (perf, docs/benchmark-history.md). The helper has its own interpreter; the loop only
writes a byte to a pipe and reads one back in an ordinary reader callback.

Hand-written: no library runs an fsync on another process's behalf. The helper opens the WAL
by its path for each sync (a log that SQLite deleted and made again is the one synced); fsync
works on the file, whichever descriptor it comes through.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("mlops_hooks.ledger")

# The helper's niceness. Its few microseconds a batch then wait for the edge's event loop
# instead of preempting it: beside a CPU-bound neighbour the loop was put off its CPU less,
# batches grew, and the edge spent 91 us of CPU a webhook instead of 103 (two interleaved
# A/Bs, 0.84x bare FastAPI instead of 0.81x; quiet unchanged; docs/benchmark-history.md).
# Raising one's own niceness needs no privilege.
HELPER_NICE = 10

SYNCED = b"."  # the helper's answer for a sync that returned; b"!" for one that failed

# The helper: one answer byte for each request byte, after one fdatasync for all of them
# (fdatasync_file's work, in an interpreter of its own: -I -S, without this package).
# It ends when its requests pipe closes (the edge closed it, or died); a SIGTERM or SIGINT
# meant for the edge (a supervisor signalling every process of the service) leaves it to that.
_HELPER = r"""
import os, signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
path = sys.argv[1]
try:
    os.nice(int(sys.argv[2]))
except OSError:
    pass
while True:
    asked = os.read(0, 4096)
    if not asked:
        break
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
        answer = b"."
    except OSError as exc:
        sys.stderr.write(f"mlops-hooks wal sync: {path}: {exc.strerror or exc}\n")
        answer = b"!"
    os.write(1, answer * len(asked))
"""


def fdatasync_file(path: str | os.PathLike[str]) -> None:
    """fdatasync ``path`` from this process: what the helper does, for when it is gone."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


class WalSyncer:
    """The helper process for one ledger file; one sync request in flight at a time."""

    def __init__(self, database: Path) -> None:
        self._proc = subprocess.Popen(  # started by this process, stopped in close()
            [sys.executable, "-I", "-S", "-c", _HELPER, f"{database}-wal", str(HELPER_NICE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            # its own process group, in the edge's session (and so in its CPU scheduling
            # group): Ctrl-C or a SIGTERM sent to the edge's process group must not end it
            # while the edge still commits batches (one that came while it started, before it
            # could ignore them, ended it in a suite run)
            process_group=0,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self.requests = self._proc.stdin.fileno()
        self.answers = self._proc.stdout.fileno()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def ask(self) -> None:
        """Ask for a sync of everything written to the WAL so far (the answer comes on
        ``answers``). Raises OSError when the helper is gone."""
        os.write(self.requests, b"s")

    def read_answer(self) -> bool | None:
        """The answer of the sync asked last: True synced, False failed (the helper logged
        why), None when the helper is gone."""
        try:
            got = os.read(self.answers, 1)
        except OSError:
            return None
        if not got:
            return None
        return got == SYNCED

    def close(self, timeout: float = 5.0) -> None:
        proc = self._proc
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        try:
            proc.wait(timeout=timeout)  # it ends at the end of its requests
        except subprocess.TimeoutExpired:
            log.warning("the WAL sync helper (pid %d) did not stop; killing it", proc.pid)
            proc.kill()
            proc.wait()
