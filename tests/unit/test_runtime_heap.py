"""settle_heap: the start-up heap leaves the cyclic GC, and requests that wait for their group
commit (their objects alive meanwhile) do not set off young collections."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from mlops_hooks.functions.runtime import settle_heap
{settle}
runs = []
gc.callbacks.append(lambda phase, info: phase == "start" and runs.append(info["generation"]))
waiting = [{{"scope": {{}}, "event": [n]}} for n in range(2_500)]  # 64 connections' worth and more
del waiting
print(len(runs), gc.get_freeze_count() > 0)
"""


def _collections(settle: str) -> tuple[int, bool]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(settle=settle)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), out[1] == "True"


def test_waiting_requests_set_off_no_young_collection_once_the_heap_is_settled() -> None:
    before, frozen_before = _collections("")
    after, frozen_after = _collections("settle_heap()")
    assert before >= 5 and not frozen_before  # 7,500 containers: ten times the default 700
    assert after == 0 and frozen_after
