"""The scheduled drift check of one model (called by handlers/scheduled.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlops_hooks.handlers.common import scheduled_model, table_params
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event, Source
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.jobs import run_token
from mlops_hooks.shared.ports.outcome import Outcome
from mlops_hooks.shared.ports.registry import Registry

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import ModelPolicy


def drift_check(event: Event, deps: Deps) -> Outcome:
    from mlops_hooks.shared.domain.drift_check import DriftCheckError

    model, policy, registry, champion = scheduled_model(event, deps)
    if champion is None:
        return Outcome(result="skipped", summary=f"{model} has no champion: nothing to check")
    settings = deps.settings
    given = {  # the scored rows are batch inference's output unless the policy says otherwise
        "current": policy.jobs.batch_inference.params.get("output", ""),
        **policy.jobs.drift_check.params,
    }
    located = table_params(deps, model, given, current="predictions", monitoring_table="monitoring")
    current, monitoring = located.get("current"), located.get("monitoring_table")
    rows = deps.need("tables").rows(current) if current and monitoring else None
    if current and monitoring and rows is not None and rows <= policy.drift.in_process_max_rows:
        try:
            return _in_process(event, deps, model, policy, registry, champion, current, monitoring)
        except DriftCheckError as exc:
            raise PermanentError(str(exc)) from None
    reference = reference_given(policy)
    params = {
        "model": model,
        "alias": policy.aliases.champion,
        **located,  # those left out: the bundle's locations
        **({"reference": reference} if reference else {}),
        **(
            {"reference_version": str(policy.drift.reference_version)}
            if reference and policy.drift.reference_version is not None
            else {}
        ),
        "window_days": str(policy.drift.window_days),
        "features": ",".join(policy.drift.features),
        "label": policy.holdout.label,
        "id_columns": ",".join(policy.data.id_columns),
        "psi_warn": str(policy.drift.psi_warn),
        "psi_drift": str(policy.drift.psi_drift),
        "alarm_topic_arn": settings.alarm_topic_arn or "",
        "event_id": event.id,
        "reason": "schedule",
    }
    run = deps.need("jobs").launch(
        "drift_check",
        policy.jobs.drift_check,
        params,
        token=run_token(event.key, "drift_check"),
        event_id=event.id,
    )
    where = "unknown size" if rows is None else f"{rows:,} rows"
    return Outcome(
        result="launched",
        summary=f"drift_check of {model} v{champion} ({where}): run {run.run_id}",
        data={"run_id": run.run_id, "backend": run.backend, "url": run.url},
    )


def reference_given(policy: ModelPolicy) -> str | None:
    """Pure: the reference the policy names (drift.reference, or the drift job's own
    ``reference`` parameter), wherever the check runs; None: the champion's training table."""
    return policy.drift.reference or policy.jobs.drift_check.params.get("reference") or None


def _in_process(
    event: Event,
    deps: Deps,
    model: str,
    policy: ModelPolicy,
    registry: Registry,
    champion: str,
    current_uri: str,
    monitoring: str,
) -> Outcome:
    import pandas as pd

    from mlops_hooks.shared.domain.drift import compare_frames
    from mlops_hooks.shared.domain.drift_check import (
        details,
        features_to_compare,
        monitoring_rows,
        reference_of,
        window,
    )

    tables = deps.need("tables")
    given = reference_given(policy)
    run_params: dict[str, str] = {}
    if given is None:
        run_id = registry.get_version(model, champion).run_id
        if not run_id:
            raise PermanentError(
                f"{model} v{champion} has no source run: set drift.reference in the policy"
            )
        run_params = registry.lineage(run_id).param_values
    reference_uri, reference_version = reference_of(
        run_params, given=given, given_version=policy.drift.reference_version
    )
    reference = tables.read(reference_uri, version=reference_version)
    scored = tables.read(current_uri)
    dates = pd.to_datetime(scored["score_date"]).dt.date
    first, last = window(sorted(set(dates)), policy.drift.window_days)
    current = scored[(dates >= first) & (dates <= last)]
    features = features_to_compare(
        list(reference.columns),
        list(current.columns),
        wanted=policy.drift.features,
        label=policy.holdout.label,
        ids=tuple(policy.data.id_columns),
    )
    report = compare_frames(
        reference[features],
        current[features],
        psi_warn=policy.drift.psi_warn,
        psi_drift=policy.drift.psi_drift,
    )
    checked_at = datetime.fromtimestamp(deps.clock.now(), UTC)
    where = {"model": model, "version": champion, "first": first, "last": last}
    tables.append(
        monitoring,
        monitoring_rows(report, checked_at=checked_at, **where),
        partition_by=["checked_date"],
    )
    emit = []
    if report.drifted:
        emit.append(
            events.drift_detected(
                model,
                checked_at.isoformat(timespec="seconds"),
                source=Source.HANDLER,
                registry=event.registry,
                reason=report.summary(),
                payload=details(report, version=champion, first=first, last=last),
            )
        )
    return Outcome(
        result="drifted" if report.drifted else "no_drift",
        summary=report.summary(),
        data={
            "drifted": report.drifted,
            "warned": report.warned,
            "window": [first.isoformat(), last.isoformat()],
            "rows": len(current),
        },
        emit=emit,
    )
