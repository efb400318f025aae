"""What the model-version handlers share: which version, under which policy, in which registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.dispatch import PermanentError
from shared.events import Event
from shared.ports import Deps, Registry

if TYPE_CHECKING:
    from shared.policy import ModelPolicy


def model_version_of(event: Event, deps: Deps) -> tuple[str, str, ModelPolicy, Registry]:
    """(model, version, its policy, its registry); an event without both is permanent."""
    if not (event.model and event.version):
        raise PermanentError(f"{event.kind.value} event without model and version")
    return (
        event.model,
        event.version,
        deps.policy_for(event.model),
        deps.registry_for(event.registry),
    )


def now_iso(deps: Deps) -> str:
    """The deps' clock as an ISO time to the second (reports, comments, Slack answers)."""
    return datetime.fromtimestamp(deps.clock.now(), UTC).isoformat(timespec="seconds")
