"""Handlers defined by the tests, loaded by `serve` through MLOPS_HOOKS_HANDLER_MODULES.

Controlled by files so a test can steer a server running in another process:
MLOPS_TEST_LOG (lines "start|done <id> <kind>"), MLOPS_TEST_BLOCK (wait while it exists),
MLOPS_TEST_FAIL (raise while it exists).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mlops_hooks.shared.domain.events import Event, EventKind
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.outcome import Outcome


def _log(line: str) -> None:
    path = os.environ.get("MLOPS_TEST_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def recording_handler(event: Event, deps: Deps) -> Outcome:
    _log(f"start {event.id} {event.kind.value}")
    block = os.environ.get("MLOPS_TEST_BLOCK")
    deadline = time.monotonic() + 120
    while block and Path(block).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    fail = os.environ.get("MLOPS_TEST_FAIL")
    if fail and Path(fail).exists():
        raise RuntimeError("told to fail")
    _log(f"done {event.id} {event.kind.value}")
    return Outcome(summary=f"recorded {event.kind.value}")


# every event kind but the people's commands (replay must still requeue) and the ignored
HANDLERS = {
    kind.value: recording_handler
    for kind in EventKind
    if kind not in (EventKind.IGNORED, EventKind.ACTION)
}


def read_log(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []
