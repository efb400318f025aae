"""How much of a file sits dirty in the page cache: Linux's cachestat(2) (6.5+), via ctypes.

The one way to see, without a power cut, whether an fsync left a file on disk: after it, no
page of the file is dirty or under writeback. No library wraps the syscall, hence ctypes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from dataclasses import dataclass

# cachestat(2) is 451 on every architecture: syscalls from 424 on (Linux 5.1) share one number
CACHESTAT = 451


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("cache", "dirty", "writeback", "evicted", "recently_evicted")
    ]


@dataclass(frozen=True)
class PageCache:
    cached: int
    dirty: int
    writeback: int

    @property
    def unsynced(self) -> int:
        """Pages a power cut could still lose: dirty, or written back but not yet complete."""
        return self.dirty + self.writeback


def page_cache(path: str | os.PathLike[str]) -> PageCache:
    """The whole file's pages (len 0 = to the end)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        out = _Stat()
        if libc.syscall(CACHESTAT, fd, ctypes.byref(_Range(0, 0)), ctypes.byref(out), 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"cachestat: {os.strerror(code)}")
        return PageCache(out.cache, out.dirty, out.writeback)
    finally:
        os.close(fd)


def cachestat_missing(directory: str | os.PathLike[str]) -> str | None:
    """Why the page cache cannot tell synced from unsynced here, or None when it can: the
    syscall exists, and on this filesystem a written page shows as unsynced until an fsync
    (tmpfs, for one, has nothing to sync)."""
    if sys.platform != "linux":
        return f"cachestat(2) is Linux only (this is {sys.platform})"
    probe = os.path.join(directory, ".cachestat-probe")
    fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"x" * 8192)
        written = page_cache(probe)
        os.fsync(fd)
        synced = page_cache(probe)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM):
            return f"cachestat(2) needs Linux 6.5+ (this is {platform.release()})"
        raise
    finally:
        os.close(fd)
        os.remove(probe)
    if written.unsynced == 0 or synced.unsynced != 0:
        return f"the page cache of {directory} does not show what fsync syncs (tmpfs?)"
    return None
