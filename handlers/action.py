"""action: a person's command (``source: cli`` or ``ui``), carried out like any other event.

``rollback`` (champion back to the previous champion), ``replay`` (an event queued again),
``reconcile`` (job runs refreshed now), ``sweep`` (the registries swept now, optionally from
``since``) and ``register_webhook``. Each is keyed by command +
arguments + request id, so a retried command is one event; who ran it is in its payload and
the audit trail. A rollback decides its plan once (the guard ``plan:<event id>`` keeps it), so
a retried handler re-applies the same alias moves instead of swapping them back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.outcome import Outcome

COMMANDS = ("rollback", "replay", "reconcile", "sweep", "register_webhook")


def handle(event: Event, deps: Deps) -> Outcome:
    arguments = event.payload.get("arguments") or {}
    command = event.task
    if command == "rollback":
        return rollback(event, deps, arguments)
    if command == "replay":
        return replay(deps, arguments)
    if command == "reconcile":
        from mlops_hooks.handlers.scheduled import reconcile

        return reconcile(deps)
    if command == "sweep":
        from mlops_hooks.handlers.sweep import sweep

        since = arguments.get("since")
        return sweep(deps, since=datetime.fromisoformat(since) if since else None, holder=event.id)
    if command == "register_webhook":
        return register_webhook(deps, arguments)
    raise PermanentError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")


@dataclass(frozen=True)
class RollbackPlan:
    """Champion ``to`` (the previous champion), previous ``from_`` (the current one)."""

    to: str
    from_: str | None

    def as_text(self) -> str:
        return json.dumps({"to": self.to, "from": self.from_})

    @classmethod
    def of_text(cls, text: str) -> RollbackPlan:
        doc = json.loads(text)
        return cls(doc["to"], doc["from"])


def plan_rollback(
    model: str, current: str | None, previous: str | None, alias: str
) -> RollbackPlan:
    """Pure: what a rollback does with the aliases as they are."""
    if previous is None:
        raise PermanentError(f"{model} has no {alias!r} alias to roll back to")
    return RollbackPlan(to=previous, from_=current)


def rollback(event: Event, deps: Deps, arguments: dict) -> Outcome:
    model = arguments.get("model")
    if not model:
        raise PermanentError("rollback needs a model")
    registry = deps.registry_for(arguments.get("registry") or "mlflow", arguments.get("workspace"))
    aliases = deps.policy_for(model).aliases
    fresh = plan_rollback(
        model,
        registry.get_alias(model, aliases.champion),
        registry.get_alias(model, aliases.previous),
        aliases.previous,
    )
    # the first attempt's plan wins: a retry after a partial move must not swap back
    hold = deps.guards.acquire(f"plan:{event.id}", fresh.as_text(), now=deps.clock.now())
    plan = RollbackPlan.of_text(hold.holder)
    if plan.from_ == plan.to:
        return Outcome(result="skipped", summary=f"{aliases.champion!r} is already v{plan.to}")
    registry.set_alias(model, aliases.champion, plan.to)
    if plan.from_ is not None:
        registry.set_alias(model, aliases.previous, plan.from_)
        registry.set_tags(model, plan.from_, {tags.PROMOTION: "rolled_back"})
    return Outcome(
        result="rolled_back",
        summary=f"moved {aliases.champion!r} from v{plan.from_} back to v{plan.to}; "
        f"{aliases.previous!r} is now v{plan.from_}",
        data={"model": model, "champion": plan.to, "previous": plan.from_},
    )


def replay(deps: Deps, arguments: dict) -> Outcome:
    target = arguments.get("event_id")
    if not target:
        raise PermanentError("replay needs an event id")
    if deps.events.get(target) is None:
        raise PermanentError(f"no event with id {target}")
    record = deps.events.requeue(target, now=deps.clock.now(), reason="replay")
    return Outcome(
        result="queued",
        summary=f"{target} ({record.kind.value}) queued again",
        data={"event_id": target},
        wake=[target],
    )


def register_webhook(deps: Deps, arguments: dict) -> Outcome:
    registry = arguments.get("registry") or "mlflow"
    done = deps.need("webhooks").register(
        registry,
        url=arguments["url"],
        events=arguments.get("events") or None,
        name=arguments.get("name") or "mlops-hooks",
        model=arguments.get("model"),
        workspace=arguments.get("workspace"),
    )
    verb = "created" if done.created else "updated"
    return Outcome(
        result=verb,
        summary=f"{verb} webhook {done.id} -> {done.url} for {', '.join(done.events)}",
        data={"id": done.id, "url": done.url, "events": done.events, "registry": registry},
    )
