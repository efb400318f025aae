"""performance_degraded: the champion's live metric broke the policy's rule (concept drift) ->
retrain, through the same guard and cooldown as data drift (handlers/retraining.py).

A concept shift can come with no data drift at all (the inputs look the same, what they mean
has changed), so the message shows both side by side: the live days that broke the rule, and
the latest data drift check of the model (or that none has run).

An alarm about a version that is no longer the champion, or raised while a newer challenger is
on live trial (a shadow or split deployment), retrains nothing: the live comparison of that
challenger decides first (labels for the same bad days would otherwise retrain again and again).
"""

from __future__ import annotations

from typing import Any

from mlops_hooks.handlers.common import train_params
from mlops_hooks.handlers.retraining import retraining_data, start_retraining
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.jobs import run_token
from mlops_hooks.shared.ports.notifier import Notification
from mlops_hooks.shared.ports.outcome import Outcome


def handle(event: Event, deps: Deps) -> Outcome:
    stale = _stale(event, deps)
    if stale is not None:
        return Outcome(result="skipped", summary=stale)
    model, policy, skipped = start_retraining(event, deps)
    if skipped is not None:
        return skipped
    found = event.payload
    data = retraining_data(event, deps, model, policy)
    params = train_params(deps, event, model, policy, data=data, reason="performance")
    params["tags"] = f"{tags.LIVE_DEGRADED}={found.get('metric', 'unknown')}"
    run = deps.need("jobs").launch(
        "train", policy.jobs.train, params, token=run_token(event.key, "train"), event_id=event.id
    )
    drift = latest_drift(deps, model)
    deps.notifier.notify(message(model, event, run, drift))
    return Outcome(
        result="launched",
        summary=f"retraining {model} on {data} ({event.reason}): run {run.run_id}",
        data={"run_id": run.run_id, "data_drift": drift},
    )


def _stale(event: Event, deps: Deps) -> str | None:
    """Load the champion and the challenger on trial now, then decide."""
    if not event.model:
        return None  # start_retraining says what is wrong
    policy = deps.policy_for(event.model)
    registry = deps.registry_for(event.registry, event.workspace)
    champion = registry.champion_version(
        event.model, alias=policy.aliases.champion, stage=policy.promotion.target_stage
    )
    on_trial = None
    if policy.deployment.mode != "single":
        on_trial = registry.get_alias(event.model, policy.aliases.challenger)
    return stale_alarm(str(event.payload.get("version")), champion, on_trial)


def stale_alarm(alarmed: str, champion: str | None, on_trial: str | None) -> str | None:
    """Pure: why an alarm about ``alarmed`` retrains nothing now, else None."""
    if champion is not None and champion != alarmed:
        return f"v{alarmed} is no longer the champion (v{champion} is): nothing to retrain"
    if on_trial and on_trial != alarmed and _newer(on_trial, alarmed):
        return (
            f"v{on_trial} is the challenger on live trial: its live comparison decides "
            f"before another retraining of v{alarmed}"
        )
    return None


def _newer(version: str, than: str) -> bool:
    """Registry versions are numbers (MLflow, Unity Catalog); anything else counts as newer."""
    return not (version.isdigit() and than.isdigit()) or int(version) > int(than)


def latest_drift(deps: Deps, model: str) -> dict[str, Any] | None:
    """The latest data drift check from the monitoring table: its status per feature counted,
    None when no check has run (or the table cannot be read here)."""
    tables = deps.tables
    uri = deps.settings.table_uri(model, "monitoring")
    if tables is None or tables.rows(uri) is None:
        return None
    rows = tables.read(uri, "delta")
    latest = rows[rows["checked_at"] == rows["checked_at"].max()]
    return {
        "checked_at": str(latest["checked_at"].iloc[0]),
        "drifted": sorted(latest.loc[latest["status"] == "drift", "feature"]),
        "worst_psi": float(latest["psi"].max()),
    }


def message(model: str, event: Event, run: Any, drift: dict[str, Any] | None) -> Notification:
    """Live performance and data drift side by side."""
    days = event.payload.get("days", [])
    problems = [
        f"{d['score_date']}: {event.payload.get('metric')} {d['value']:.4f} on "
        f"{d['labelled_rows']:,} labelled rows" + (" (broke the rule)" if d["violated"] else "")
        for d in days
    ]
    if drift is None:
        said = "no data drift check has run"
    elif drift["drifted"]:
        said = f"data drift too: {', '.join(drift['drifted'])} (PSI up to {drift['worst_psi']:.3f})"
    else:
        said = f"no data drift (worst PSI {drift['worst_psi']:.3f}): a concept shift"
    return Notification(
        title=f"{model}: live performance degraded, retraining",
        text=f"{event.reason}; {said}",
        verdict="warning",
        facts=[
            ("champion", f"v{event.payload.get('version', '?')}"),
            ("rule", str(event.payload.get("rule", "-"))),
            ("data drift", said),
            ("retraining run", run.run_id),
        ],
        problems=problems,
        link_url=run.url,
        link_label="Open the run",
    )
