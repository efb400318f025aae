"""The retraining both alarms lead to (data drift: drift_detected; concept drift:
performance_degraded): one at a time and at most one per cooldown, through the ledger guard
``retrain:<model>`` held by the event that launched the latest retraining."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.outcome import Outcome

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import ModelPolicy

LAUNCH_GRACE_SECONDS = 600  # a guard whose holder launched nothing this long is taken over


def start_retraining(event: Event, deps: Deps) -> tuple[str, ModelPolicy, Outcome | None]:
    """The alarm's model and policy, and the "skipped" outcome when it may not retrain now."""
    model = event.model
    if not model:
        raise PermanentError(f"{event.kind.value} event without a model")
    policy = deps.policy_for(model)
    return model, policy, claim_retraining(event, deps, model, policy.drift.cooldown_hours)


def claim_retraining(event: Event, deps: Deps, model: str, cooldown_hours: float) -> Outcome | None:
    """Take the guard for ``event``; the "skipped" outcome (with the reason) if a retraining
    is running, being launched, or in its cooldown."""
    now = deps.clock.now()
    guard = f"retrain:{model}"
    hold = deps.guards.acquire(guard, event.id, now=now)
    if hold.held_by(event.id):
        return None
    busy = _busy(deps, model, hold, now, cooldown_hours)
    if busy:
        return Outcome(result="skipped", summary=busy, data={"guard_holder": hold.holder})
    deps.guards.release(guard, hold.holder)
    hold = deps.guards.acquire(guard, event.id, now=now)
    if not hold.held_by(event.id):
        return Outcome(result="skipped", summary=f"alarm {hold.holder} took the retraining")
    return None


def retraining_data(event: Event, deps: Deps, model: str, policy: ModelPolicy) -> str:
    """What to retrain on: the policy's, else the latest training's (the guard is given back
    when there is none, so the next alarm may try)."""
    data = policy.jobs.train.params.get("data") or _last_training_data(deps, model)
    if not data:
        deps.guards.release(f"retrain:{model}", event.id)
        raise PermanentError(
            f"no data to retrain {model} on: set jobs.train.params.data in the policy "
            "(or let a data_landed event train it once)"
        )
    return data


def _busy(deps: Deps, model: str, hold: Any, now: float, cooldown_hours: float) -> str | None:
    """Load the holder's run (refreshed when unfinished), then decide."""
    runs = [r for r in deps.runs.list_runs(limit=500) if r.event_id == hold.holder]
    run = runs[0] if runs else None
    jobs = deps.jobs
    unfinished = run is not None and not run.state.finished
    if unfinished and jobs is not None and run.backend == jobs.backend:
        run = jobs.refresh(run)
    return busy_reason(model, hold, run, now=now, cooldown_hours=cooldown_hours)


def busy_reason(
    model: str, hold: Any, run: Any | None, *, now: float, cooldown_hours: float
) -> str | None:
    """Pure: why the guard's holder still has the retraining; None when it may be taken over."""
    if run is None:
        if now - hold.since < LAUNCH_GRACE_SECONDS:
            return f"a retraining of {model} is being launched (event {hold.holder})"
        return None  # its holder never launched anything
    if not run.state.finished:
        return f"a retraining of {model} is running (run {run.run_id}); this alarm is noted"
    until = hold.since + cooldown_hours * 3600
    if now < until:
        return (
            f"cooldown: {model} was retrained at {_iso(hold.since)} (run {run.run_id}); "
            f"the next retraining may start after {_iso(until)}"
        )
    return None


def _last_training_data(deps: Deps, model: str) -> str | None:
    """The data the latest train run of this model used."""
    for run in deps.runs.list_runs(limit=500):
        if run.job == "train" and run.params.get("model") == model and run.params.get("data"):
            return run.params["data"]
    return None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
