"""The bundle of ports a handler receives. Built by bootstrap; tests pass fakes into bootstrap.

A port that a deployment does not configure is None (or absent from ``registries``), and a
handler that needs it fails with a clear error (see ``Deps.need`` / ``Deps.registry_for``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.errors import PortMissing
from mlops_hooks.shared.ports.ledger import Cursors, EventLog, Guards, JobRuns, Ledger
from mlops_hooks.shared.ports.notifier import Notifier
from mlops_hooks.shared.ports.registry import Registry
from mlops_hooks.shared.ports.renderer import Renderer
from mlops_hooks.shared.ports.runtime import Clock, SystemClock
from mlops_hooks.shared.settings import Settings

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import ModelPolicy, Policy
    from mlops_hooks.shared.ports.jobs import Jobs
    from mlops_hooks.shared.ports.tables import Tables
    from mlops_hooks.shared.ports.webhooks import Webhooks


_RESOLVING = threading.Lock()  # a policy factory runs once (Deps.loaded_policy)


@dataclass
class Deps:
    """Everything a handler may use.

    ``registries`` maps an event's ``registry`` ("mlflow", "databricks") to its adapter; it may
    be a lazy mapping, so an edge function that never handles an event never imports mlflow.
    The ledger is one store behind three ports: ``events`` (the event log), ``guards``
    (first-writer-wins holds) and ``runs`` (job runs); handlers use the one they need.
    """

    settings: Settings
    ledger: Ledger
    notifier: Notifier
    renderer: Renderer
    clock: Clock = field(default_factory=SystemClock)
    registries: Mapping[str, Registry] = field(default_factory=dict)
    jobs: Jobs | None = None
    tables: Tables | None = None
    webhooks: Webhooks | None = None
    policy: Policy | Callable[[], Policy] | None = None

    @property
    def events(self) -> EventLog:
        return self.ledger

    @property
    def guards(self) -> Guards:
        return self.ledger

    @property
    def runs(self) -> JobRuns:
        return self.ledger

    @property
    def cursors(self) -> Cursors:
        return self.ledger

    def need(self, name: str) -> Any:
        port = getattr(self, name)
        if port is None:
            raise PortMissing(f"the {name} port is not configured in this deployment")
        return port

    def registry_for(self, registry: str, workspace: str | None = None) -> Registry:
        """The event's registry, in the event's workspace (an MLflow 3 server's team)."""
        try:
            found = self.registries[registry]
        except KeyError:
            raise PortMissing(
                f"no {registry!r} registry is configured in this deployment"
            ) from None
        return found.in_workspace(workspace) if workspace is not None else found

    def loaded_policy(self) -> Policy:
        """The policy in force: loaded on first use (the built-in default when none is set);
        a ``PolicyWatch`` is asked each time (it re-reads an edited file)."""
        from mlops_hooks.shared.domain.policy import Policy, PolicyWatch, default_policy

        if not isinstance(self.policy, Policy | PolicyWatch):
            # once, whichever thread asks first: two watches from one factory would each
            # have their own reload callbacks (serve's warm-up thread asks while the main
            # thread hangs its callbacks on the watch)
            with _RESOLVING:
                if self.policy is None:
                    self.policy = default_policy()
                elif not isinstance(self.policy, Policy | PolicyWatch):
                    self.policy = self.policy()  # a factory may give a watch
        if isinstance(self.policy, PolicyWatch):
            return self.policy()
        return self.policy

    def policy_for(self, model: str) -> ModelPolicy:
        return self.loaded_policy().for_model(model)
