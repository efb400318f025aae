"""The soak benchmark's handler: notes each run's start and end, and does nothing else.

Loaded by `serve` through MLOPS_HOOKS_HANDLER_MODULES=bench.soak_handlers:HANDLERS. Each line is
one ``os.write`` to an O_APPEND descriptor: whole, and kept by the kernel when the process is
SIGKILLed (no fsync needed: the machine does not crash, the process does).
"""

from __future__ import annotations

import os
import time

from mlops_hooks.shared.domain.events import Event, EventKind
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.outcome import Outcome

_FD: int | None = None
# how long a run takes: long enough that some are running when serve is killed
_RUN_SECONDS = float(os.environ.get("SOAK_HANDLER_MS", "2")) / 1000


def _note(line: str) -> None:
    global _FD
    if _FD is None:
        _FD = os.open(os.environ["SOAK_RUNS_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_FD, line.encode() + b"\n")


def note_run(event: Event, deps: Deps) -> Outcome:
    _note(f"start {event.id}")
    time.sleep(_RUN_SECONDS)
    _note(f"done {event.id}")
    return Outcome(summary="soaked")


HANDLERS = {EventKind.MODEL_REGISTERED.value: note_run}
