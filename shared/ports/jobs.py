"""The jobs port: launch the Spark jobs without waiting; the ledger keeps their runs."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

from mlops_hooks.shared.ports.ledger import JobRun

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import Job as JobSpec

# A job reports its result as one JSON line on stdout behind this prefix (jobs/cli.py writes
# it, LocalJobs reads it from the run's log).
RESULT_PREFIX = "MLOPS_HOOKS_RESULT "


class Jobs(Protocol):
    """Launches the Spark jobs (jobs/) without waiting for them; the ledger keeps their runs."""

    backend: str  # "local", "databricks"

    def launch(
        self, job: str, spec: JobSpec, params: dict[str, str], *, token: str, event_id: str
    ) -> JobRun:
        """Start a run, or return the one already started with ``token`` (never two)."""
        ...

    def refresh(self, run: JobRun) -> JobRun:
        """The run's state now, saved to the ledger."""
        ...


def run_token(event_key: str, job: str) -> str:
    """The idempotency token of the run an event launches: ≤ 64 characters (Databricks')."""
    return "mlops-" + hashlib.sha256(f"{job}\n{event_key}".encode()).hexdigest()[:40]
