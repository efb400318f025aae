"""What the model-version handlers share: which version, under which policy, in which registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.registry import Registry

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import ModelPolicy


def model_version_of(event: Event, deps: Deps) -> tuple[str, str, ModelPolicy, Registry]:
    """(model, version, its policy, its registry); an event without both is permanent."""
    if not (event.model and event.version):
        raise PermanentError(f"{event.kind.value} event without model and version")
    return (
        event.model,
        event.version,
        deps.policy_for(event.model),
        deps.registry_for(event.registry, event.workspace),
    )


def now_iso(deps: Deps) -> str:
    """The deps' clock as an ISO time to the second (reports, comments, Slack answers)."""
    return datetime.fromtimestamp(deps.clock.now(), UTC).isoformat(timespec="seconds")


def scheduled_model(event: Event, deps: Deps) -> tuple[str, ModelPolicy, Registry, str | None]:
    """A scheduled task's model, its policy, its registry and its champion (None: none yet)."""
    model = event.model
    if not model:
        raise PermanentError(f"a {event.task} schedule needs a model")
    policy = deps.policy_for(model)
    registry = deps.registry_for(event.registry, event.workspace)
    champion = registry.champion_version(
        model, alias=policy.aliases.champion, stage=policy.promotion.target_stage
    )
    return model, policy, registry, champion


def predictions_table(deps: Deps, model: str, policy: ModelPolicy) -> str:
    """Where batch inference writes (and the drift check reads) the model's scored rows."""
    return policy.jobs.batch_inference.params.get("output") or deps.settings.table_uri(
        model, "predictions"
    )


def train_params(
    deps: Deps, event: Event, model: str, policy: ModelPolicy, *, data: str, reason: str
) -> dict[str, str]:
    """The train job's parameters for ``model`` on ``data`` (names as in the bundle)."""
    return {
        "data": data,
        "model": model,
        "label": policy.holdout.label,
        "id_columns": ",".join(policy.data.id_columns),
        "features_table": deps.settings.table_uri(model, "features"),
        "holdout_table": deps.settings.table_uri(model, "holdout"),
        "event_id": event.id,
        "reason": reason,
    }
