"""sweep: ask each configured registry what its webhooks should have said (lost deliveries,
downtime) and record it with the webhooks' keys: push and pull are one event.

load (the cursor, the registry's changes) -> decide (shared/domain/sweep.py, pure) -> apply
(the events are emitted; the dispatcher saves the cursor only once they are recorded). A
registry that cannot be reached is reported and tried again at the next sweep; the others go on.
"""

from __future__ import annotations

from datetime import datetime

from mlops_hooks.shared.domain.sweep import (
    SweepCursor,
    SweepDecision,
    SweepRules,
    decide,
    start_ms,
)
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.outcome import Outcome


def cursor_name(registry: str, workspace: str | None) -> str:
    return f"sweep:{registry}" + ("" if workspace is None else f"@{workspace}")


# One sweep at a time: ticks come every 10 s, and a registry that answers slowly (or not at
# all: the SDK retries for a minute) must not take every worker from the events. The hold
# lapses on its own if its worker dies.
SWEEP_GUARD = "sweep:running"
SWEEP_HOLD_SECONDS = 300.0


def sweep(deps: Deps, *, since: datetime | None = None, holder: str) -> Outcome:
    now = deps.clock.now()
    hold = deps.guards.acquire(SWEEP_GUARD, holder, now=now, until=now + SWEEP_HOLD_SECONDS)
    if not hold.held_by(holder):
        return Outcome(result="skipped", summary=f"a sweep is already running ({hold.holder})")
    try:
        return _sweep(deps, since, now)
    finally:
        deps.guards.release(SWEEP_GUARD, holder)


def _sweep(deps: Deps, since: datetime | None, now: float) -> Outcome:
    settings = deps.settings
    now_ms = int(now * 1000)
    outcome = Outcome(result="done")
    problems, lines = [], []
    for name in deps.registries:
        for workspace in settings.sweep_workspace_list if name == "mlflow" else [None]:
            where = cursor_name(name, workspace)
            try:
                decision, calls = _sweep_one(deps, name, workspace, now_ms, since)
            except Exception as exc:  # reported; the next sweep tries again
                problems.append(f"{where}: {type(exc).__name__}: {exc}")
                continue
            outcome.emit += decision.events
            outcome.cursors[where] = decision.cursor.to_json()
            outcome.data[where] = {
                "calls": calls,
                "found": decision.found,
                "raised": decision.counts,
                "baseline": decision.baseline,
            }
            lines.append(f"{where}: {len(decision.events)} new of {decision.found} ({calls} calls)")
    if problems:
        outcome.result = "incomplete"
        outcome.data["errors"] = problems
    if not deps.registries:
        outcome.result = "skipped"
        lines.append("no registry is configured")
    outcome.summary = "; ".join(lines + problems)
    return outcome


def _sweep_one(
    deps: Deps, name: str, workspace: str | None, now_ms: int, since: datetime | None
) -> tuple[SweepDecision, int]:
    settings = deps.settings
    registry = deps.registry_for(name, workspace)
    cursor = SweepCursor.from_json(deps.cursors.get_cursor(cursor_name(name, workspace)))
    explicit = None if since is None else int(since.timestamp() * 1000)
    start = start_ms(
        cursor,
        now_ms=now_ms,
        lookback_ms=int(settings.sweep_lookback_hours * 3_600_000),
        since_ms=explicit,
    )
    scan = registry.changes_since(
        start, aliases=frozenset({settings.challenger_alias}), promote_tag=settings.promote_tag
    )
    rules = SweepRules(
        registry=name,
        workspace=workspace,
        challenger_alias=settings.challenger_alias,
        champion_alias=settings.champion_alias,
        promote_tag=settings.promote_tag,
    )
    decision = decide(scan.changes, cursor, rules, start=start, explicit=explicit is not None)
    return decision, scan.calls
