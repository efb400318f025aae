"""`serve`'s scheduler: the policy's cron schedules (and the reconcile tick) become ``scheduled``
events, keyed by rule + scheduled time.

The key makes ticking idempotent: a restart that ticks the same time again records a duplicate,
not a second event. Each poll submits only the **latest** due time of each rule, so after a
downtime the missed ticks are caught up once, not one by one. A rule is first seen through the
ledger guard ``schedule:<rule>``; times before that are never ticked (a new nightly rule does
not fire at once for last night).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlops_hooks.shared.domain import events

if TYPE_CHECKING:
    from mlops_hooks.shared.dispatch import Dispatcher
    from mlops_hooks.shared.domain.policy import Policy
    from mlops_hooks.shared.ports.ledger import Recorded

log = logging.getLogger("mlops_hooks.scheduler")
RECONCILE_RULE = "mlops-hooks:reconcile"
SWEEP_RULE = "mlops-hooks:sweep"


@dataclass(frozen=True)
class Rule:
    name: str
    cron: str
    task: str
    model: str | None = None
    every_seconds: float | None = None  # an interval rule (the sweep): due every N seconds

    def due(self, now: float) -> datetime:
        """The latest due time at or before ``now``."""
        from croniter import croniter

        if self.every_seconds:
            return datetime.fromtimestamp(now - now % self.every_seconds, UTC)
        return croniter(self.cron, datetime.fromtimestamp(now, UTC)).get_prev(datetime)


class Scheduler:
    def __init__(self, dispatcher: Dispatcher, rules: list[Rule], *, poll_seconds: float) -> None:
        self.dispatcher = dispatcher
        self.rules = rules
        self.poll_seconds = poll_seconds
        self._last: dict[str, datetime] = {}
        self._since: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_policy(cls, dispatcher: Dispatcher) -> Scheduler:
        settings = dispatcher.deps.settings
        rules = cls.rules_of(dispatcher, dispatcher.deps.loaded_policy())
        return cls(dispatcher, rules, poll_seconds=settings.scheduler_poll_seconds)

    def replan(self, policy: Policy) -> None:
        """The rules of a reloaded policy (the ticks stay); rules already due keep their
        place (a rule's name is its identity)."""
        self.rules = self.rules_of(self.dispatcher, policy)
        log.info("scheduler: %s", ", ".join(f"{r.name} ({r.cron})" for r in self.rules) or "none")

    @staticmethod
    def rules_of(dispatcher: Dispatcher, policy: Policy) -> list[Rule]:
        settings = dispatcher.deps.settings
        rules = [
            Rule(name, schedule.cron, schedule.task, model)
            for name, schedule, model in policy.schedules()
        ]
        if settings.reconcile_cron:
            rules.append(Rule(RECONCILE_RULE, settings.reconcile_cron, "reconcile"))
        if settings.sweep_seconds and dispatcher.deps.registries:  # nothing to sweep without
            every = settings.sweep_seconds
            rules.append(Rule(SWEEP_RULE, f"every {every:g}s", "sweep", every_seconds=every))
        return rules

    def tick(self, now: float | None = None) -> list[Recorded]:
        """Submit each rule's latest due time, if not submitted yet; returns what was recorded."""
        now = self.dispatcher.clock.now() if now is None else now
        ledger = self.dispatcher.ledger
        recorded = []
        for rule in self.rules:
            if rule.name not in self._since:  # one ledger write per rule and process
                hold = ledger.acquire(f"schedule:{rule.name}", "scheduler", now=now)
                self._since[rule.name] = hold.since
            since = self._since[rule.name]
            due = rule.due(now)
            if due.timestamp() < since or self._last.get(rule.name) == due:
                continue
            event = events.scheduled(rule.name, due, rule.task, model=rule.model)
            recorded.append(self.dispatcher.submit(event))
            self._last[rule.name] = due
        return recorded

    def _wait(self) -> float:
        """Until the next poll, or sooner to the next interval tick (a sweep every 10 s is not
        held back by a 5 s poll)."""
        now = self.dispatcher.clock.now()
        ahead = [r.every_seconds - now % r.every_seconds for r in self.rules if r.every_seconds]
        return min([self.poll_seconds, *(a + 0.05 for a in ahead)])

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.dispatcher.deps.loaded_policy()  # an edited policy file is seen here
                    self.tick()
                except Exception:
                    log.exception("scheduler tick failed; trying again")
                self._stop.wait(self._wait())

        self._thread = threading.Thread(target=loop, name="scheduler", daemon=True)
        self._thread.start()
        log.info("scheduler: %s", ", ".join(f"{r.name} ({r.cron})" for r in self.rules) or "none")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
