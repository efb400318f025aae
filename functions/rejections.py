"""Refused deliveries, seen: one log line per route and status at most every few seconds (a
flood of forgeries must not flood the log), and counts for ``/healthz``.

A wrong webhook secret otherwise leaves no trace: the sender (MLflow) does not retry a 4xx and
logs nothing, and the access log is off. Reasons are our own one-line texts (never a secret);
the characters a sender put in them are escaped, so a line stays one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

log = logging.getLogger("mlops_hooks.edge")
LOG_EVERY_SECONDS = 10.0


class Rejections:
    def __init__(self, *, every_seconds: float = LOG_EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self._counts: Counter[int] = Counter()
        self._last_logged: dict[tuple[str, int], float] = {}
        self._unlogged: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def note(self, path: str, status: int, reason: str) -> bool:
        """Count the refusal; True when it was logged (not within the rate limit)."""
        now = time.monotonic()
        where = (path, status)
        with self._lock:
            self._counts[status] += 1
            if now - self._last_logged.get(where, -self.every_seconds) < self.every_seconds:
                self._unlogged[where] += 1
                return False
            self._last_logged[where] = now
            more = self._unlogged.pop(where, 0)
        also = f" (and {more} more since the last line)" if more else ""
        log.warning("refused %s: %d %s%s", path, status, _printable(reason)[:300], also)
        return True

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {str(status): n for status, n in sorted(self._counts.items())}


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
