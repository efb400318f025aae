"""scheduled: a cron tick of the policy's schedules, by task.

- ``batch_inference``: launch the job for the model's champion (no champion: skipped, saying so);
- ``reconcile``: refresh the state of every unfinished job run, and notify each failed one once;
- ``sweep``: the registry sweep (handlers/sweep.py);
- ``drift_check``: the champion's training reference against the last scoring window: in this
  process when the scored table is small (``drift.in_process_max_rows``), else the drift_check
  job. In-process, a drift over the threshold is emitted as ``drift_detected`` right away; the
  job publishes it to the alarm topic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_hooks.handlers.common import scheduled_model, table_params
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.jobs import run_token
from mlops_hooks.shared.ports.ledger import RunState
from mlops_hooks.shared.ports.notifier import Notification
from mlops_hooks.shared.ports.outcome import Outcome

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import ModelPolicy


def handle(event: Event, deps: Deps) -> Outcome:
    if event.task == "batch_inference":
        return batch_inference(event, deps)
    if event.task == "reconcile":
        return reconcile(deps)
    if event.task == "sweep":
        from mlops_hooks.handlers.sweep import sweep

        return sweep(deps, holder=event.id)
    if event.task == "drift_check":
        from mlops_hooks.handlers.drift_check import drift_check

        return drift_check(event, deps)
    if event.task == "labels":
        from mlops_hooks.handlers.labels_landed import labels_from_table

        return labels_from_table(event, deps)
    raise PermanentError(f"unknown scheduled task {event.task!r}")


def batch_inference(event: Event, deps: Deps) -> Outcome:
    model, policy, _, champion = scheduled_model(event, deps)
    if champion is None:
        return Outcome(result="skipped", summary=f"{model} has no champion to score with")
    spec = policy.jobs.batch_inference
    if "input" not in spec.params:
        raise PermanentError(
            "jobs.batch_inference.params.input (the table to score) is not set in the policy"
        )
    params = {
        "model": model,
        "alias": policy.aliases.champion,
        **table_params(deps, model, spec.params, output="predictions"),
        "label": policy.holdout.label,
        "id_columns": ",".join(policy.data.id_columns),
        "score_date": event.occurred_at.date().isoformat(),
        **deployment_params(policy),
        "event_id": event.id,
        "reason": "schedule",
    }
    run = deps.need("jobs").launch(
        "batch_inference",
        spec,
        params,
        token=run_token(event.key, "batch_inference"),
        event_id=event.id,
    )
    return Outcome(
        result="launched",
        summary=f"batch_inference of {model} v{champion}: run {run.run_id}",
        data={"run_id": run.run_id, "backend": run.backend, "url": run.url, "champion": champion},
    )


def deployment_params(policy: ModelPolicy) -> dict[str, str]:
    """Pure: the batch job's deployment parameters (none for a single champion, so a bundle
    or an entry point that predates deployments runs as before)."""
    deployment = policy.deployment
    if deployment.mode == "single":
        return {}
    params = {
        "deployment": deployment.mode,
        "challengers": ",".join(deployment.challengers),
        "positive_label": str(policy.holdout.positive_label or "Yes"),
    }
    if deployment.mode == "split":
        params["split"] = ",".join(f"{arm}={share}" for arm, share in deployment.split.items())
        params["assign_by"] = deployment.assign_by or ""
    return params


def reconcile(deps: Deps) -> Outcome:
    """Refresh running jobs; notify failures once (the run is marked reported)."""
    jobs = deps.jobs  # none configured: nothing to refresh, the rest still runs
    ledger = deps.runs
    for run in ledger.list_runs(unfinished=True, limit=500) if jobs is not None else []:
        if run.backend == jobs.backend:
            jobs.refresh(run)
    ended: dict[str, list[str]] = {"failed": [], "succeeded": [], "still running": []}
    for run in ledger.list_runs(limit=500):
        if not run.state.finished:
            ended["still running"].append(run.run_id)
            continue
        if run.reported:
            continue
        if run.state is RunState.FAILED:
            ended["failed"].append(run.run_id)
            deps.notifier.notify(_failure(run))
        else:
            ended["succeeded"].append(run.run_id)
        ledger.save_run(run.model_copy(update={"reported": True}))
    # the AWS-side sweeper: events still waiting a while after they were due lost their wake-up
    # (the queue was down after the ledger write): wake them again
    # (MLOPS_HOOKS_REWAKE_AFTER_SECONDS: a wake-up normally starts an event within seconds)
    now = deps.clock.now()
    stuck = deps.events.due_ids(now - deps.settings.rewake_after_seconds, limit=100)
    expired = deps.events.expire_ticks(now=now)  # SQLite: DynamoDB's TTL does it on AWS
    summary = ", ".join(f"{len(ids)} {what}" for what, ids in ended.items())
    if stuck:
        summary += f"; {len(stuck)} waiting events woken again"
    if expired:
        summary += f"; {expired} old housekeeping ticks expired"
    data = {**ended, "woken": stuck, "expired_ticks": expired}
    return Outcome(result="done", summary=summary, data=data, wake=stuck)


def _failure(run: Any) -> Notification:
    return Notification(
        title=f"job {run.job} failed (run {run.run_id})",
        text=run.message or "the run failed",
        verdict="failed",
        facts=[("backend", run.backend), ("event", run.event_id or "-")]
        + ([("log", run.log_path)] if run.log_path else []),
        link_url=run.url,
        link_label="Open the run",
    )
