"""A local job run's log, read from its end (the CLI's `jobs logs` and the model page)."""

from __future__ import annotations

from pathlib import Path

TAIL_BYTES = 64 * 1024  # a tail never reads more of a long log than this


def log_tail(path: str | Path, lines: int | None = None) -> str | None:
    """The last ``lines`` lines of the log (all of it when None), or None if it is gone."""
    log = Path(path)
    if not log.exists():
        return None
    if lines is None:
        return log.read_text(errors="replace")
    with log.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - TAIL_BYTES))
        text = handle.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])
