"""What the model-version handlers share: which version, under which policy, in which registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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


def table_location(deps: Deps, model: str, table: str, *, given: str | None) -> str | None:
    """Where one of the model's Delta tables lives, for a job's parameters and for reading it.

    The policy's own job parameter (``given``) wins; then the deployment's root
    (``MLOPS_HOOKS_TABLES_URI``); with the jobs on Databricks and neither set, None: the
    parameter is left out, so the bundle's default (``${var.tables_root}``, a Unity Catalog
    volume) applies instead of a path on this machine; else the local default under the
    state directory.
    """
    settings = deps.settings
    if given:
        return given
    if settings.tables_uri is None and settings.jobs_backend == "databricks":
        return None
    return settings.table_uri(model, table)


def model_table(deps: Deps, model: str, table: str, *, given: str | None = None) -> str:
    """A table this process reads or writes itself: where ``table_location`` puts it, else
    the deployment's default (a job on Databricks would use the bundle's)."""
    return table_location(deps, model, table, given=given) or deps.settings.table_uri(model, table)


def live_join(deps: Deps, model: str, policy: ModelPolicy) -> Any:
    """Every label so far joined with every prediction (served and shadow) of the model."""
    from mlops_hooks.shared.domain.live import join_labels, long_predictions

    spec = policy.data.labels
    if spec is None:
        raise PermanentError(f"{model} has no data.labels in the policy: no live evidence")
    tables = deps.need("tables")
    output = policy.jobs.batch_inference.params.get("output")
    scored = tables.read(model_table(deps, model, "predictions", given=output), "delta")
    return join_labels(
        long_predictions(scored, spec.id_column),
        tables.read(model_table(deps, model, "labels"), "delta"),
        id_column=spec.id_column,
        label_column=spec.label_column,
        expected_within_days=spec.expected_within_days,
    )


def table_params(deps: Deps, model: str, given: dict[str, str], **tables: str) -> dict[str, str]:
    """``param=table`` pairs as job parameters, each where ``table_location`` puts it (those
    left to the bundle are left out)."""
    found = {
        param: table_location(deps, model, table, given=given.get(param))
        for param, table in tables.items()
    }
    return {param: where for param, where in found.items() if where is not None}


def train_params(
    deps: Deps, event: Event, model: str, policy: ModelPolicy, *, data: str, reason: str
) -> dict[str, str]:
    """The train job's parameters for ``model`` on ``data`` (names as in the bundle)."""
    return {
        "data": data,
        "model": model,
        "label": policy.holdout.label,
        "id_columns": ",".join(policy.data.id_columns),
        **table_params(
            deps,
            model,
            policy.jobs.train.params,
            features_table="features",
            holdout_table="holdout",
        ),
        "event_id": event.id,
        "reason": reason,
    }
