"""Timing a benchmark's side the same way each time: several runs, each its wall time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def timed_runs(run: Callable[[], T], times: int) -> tuple[list[float], T]:
    """The wall time of each of ``times`` runs, and what the last one returned."""
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        result = run()
        spent.append(time.perf_counter() - started)
    return spent, result
