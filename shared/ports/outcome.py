"""What a handler returns: its result for the audit trail, and the follow-up events it emits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.events import Event

if TYPE_CHECKING:
    from mlops_hooks.shared.ports.deps import Deps


@dataclass
class Outcome:
    """What a handler reports. ``emit`` events are recorded through the ledger like any other;
    ``wake`` names recorded events put back to run (a replay), for the queue to wake a worker;
    ``cursors`` are positions saved once the ``emit`` events are recorded (the sweep's watermark
    moves only past what is safely in the ledger)."""

    result: str = "done"  # "done", "skipped", "rejected", ... (free text, shown in the audit)
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    emit: list[Event] = field(default_factory=list)
    wake: list[str] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)

    def as_json(self, emitted: list[str], policy: str | None = None) -> dict[str, Any]:
        """``policy``: the digest of the policy in force when the handler ran."""
        return {
            "result": self.result,
            "summary": self.summary,
            "data": self.data,
            "emitted": emitted,
            **({"policy": policy} if policy else {}),
        }


Handler = Callable[[Event, "Deps"], Outcome | None]
