"""DatabricksJobs: launch the bundle's jobs with ``jobs.run_now`` through databricks-sdk.

The job is found by name (the bundle names them per target, e.g. ``[dev] mlops-hooks-train``;
the policy's ``jobs.<job>.name``). ``run_now`` carries an ``idempotency_token`` derived from the
event's key, so Databricks itself refuses to start a second run for a duplicate event, even
after our own record was lost. Nothing here waits for a run: the reconcile tick calls
``refresh``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.ports.ledger import JobRun, Ledger, RunState

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import Job as JobSpec
    from mlops_hooks.shared.ports.runtime import Clock
    from mlops_hooks.shared.settings import Settings

_RESULT = {
    "SUCCESS": RunState.SUCCESS,
    "SUCCESS_WITH_FAILURES": RunState.SUCCESS,
    "CANCELED": RunState.CANCELED,
    "UPSTREAM_CANCELED": RunState.CANCELED,
}
_ENDED = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}


class DatabricksJobs:
    backend = "databricks"

    def __init__(self, client: Any, host: str, ledger: Ledger, clock: Clock) -> None:
        self.client = client  # databricks.sdk.WorkspaceClient
        self.host = host
        self.ledger = ledger
        self.clock = clock
        self._job_ids: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings, ledger: Ledger, clock: Clock) -> DatabricksJobs:
        from mlops_hooks.shared.adapters.databricks_client import workspace_client

        client, host = workspace_client(
            settings.databricks_host,
            settings.secret("databricks_token"),
            retry_timeout_seconds=settings.databricks_retry_timeout_seconds,
        )
        return cls(client, host, ledger, clock)

    def job_id(self, name: str) -> int:
        if name not in self._job_ids:
            found = [j for j in self.client.jobs.list(name=name) if j.settings.name == name]
            if not found:
                raise PermanentError(
                    f"no Databricks job named {name!r}: deploy the bundle "
                    "(databricks bundle deploy -t <target>) or fix jobs.<job>.name in the policy"
                )
            if len(found) > 1:
                raise PermanentError(f"{len(found)} Databricks jobs are named {name!r}")
            self._job_ids[name] = int(found[0].job_id)
        return self._job_ids[name]

    def launch(
        self, job: str, spec: JobSpec, params: dict[str, str], *, token: str, event_id: str
    ) -> JobRun:
        if not spec.name:
            raise PermanentError(f"jobs.{job}.name (the Databricks job's name) is not set")
        job_id = self.job_id(spec.name)
        merged = {**spec.params, **params}
        waiter = self.client.jobs.run_now(job_id, job_parameters=merged, idempotency_token=token)
        run_id = str(waiter.response.run_id)  # not waiting: the reconcile tick looks later
        run = JobRun(
            run_id=run_id,
            job=job,
            backend=self.backend,
            state=RunState.PENDING,
            event_id=event_id,
            token=token,
            params=merged,
            started_at=self.clock.now(),
            url=f"{self.host}/#job/{job_id}/run/{run_id}",
        )
        self.ledger.save_run(run)
        return run

    def refresh(self, run: JobRun) -> JobRun:
        if run.state.finished:
            return run
        got = self.client.jobs.get_run(int(run.run_id))
        state = got.state
        life = state.life_cycle_state.value if state and state.life_cycle_state else "PENDING"
        result = state.result_state.value if state and state.result_state else None
        if life in _ENDED:
            new = _RESULT.get(result or "", RunState.FAILED)
        elif life in ("RUNNING", "TERMINATING"):
            new = RunState.RUNNING
        else:
            new = RunState.PENDING
        updated = run.model_copy(
            update={
                "state": new,
                "ended_at": self.clock.now() if new.finished else None,
                "message": (state.state_message or "") if state else "",
                "url": got.run_page_url or run.url,
            }
        )
        if updated != run:
            self.ledger.save_run(updated)
        return updated
