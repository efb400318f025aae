"""LocalJobs: the jobs/ entry points as subprocesses on this machine (local Spark).

The same command a Databricks task runs
(``python -m mlops_hooks.jobs.train --data ... --model ...``), its
output in ``<state dir>/jobs/<run id>.log``, its state in the ledger. A run is tied to its
idempotency token by the ledger guard ``run:<token>``, so a retried or duplicate event gets
the run that exists instead of a second one. A watcher thread records the end; if this process
dies first, ``refresh`` (the reconcile tick) settles the run from its pid and its log.

``warm`` (the default of ``serve`` and the demo: settings ``jobs_warm``): the runs go one after
another to one long-lived job host with Spark and MLflow already started (jobs/host.py,
shared/adapters/job_host.py), the same command and log, seconds instead of a JVM's start each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_hooks.shared.adapters.job_host import JobHost
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.ports.jobs import RESULT_PREFIX
from mlops_hooks.shared.ports.ledger import JobRun, Ledger, RunState

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import Job as JobSpec
    from mlops_hooks.shared.ports.runtime import Clock


def command_line(
    entry_point: str, params: dict[str, str], python: str = sys.executable
) -> list[str]:
    """The job's command: parameter ``features_table`` (a valid Databricks job parameter name)
    becomes ``--features-table``, as the bundle's named parameters do."""
    args = [python, "-m", entry_point]
    for name, value in params.items():
        args += [f"--{name.replace('_', '-')}", value]
    return args


def result_of(log_path: Path) -> tuple[dict | None, str]:
    """(the job's result line, the log's last line): how a run ended, from its log."""
    result, last = None, ""
    try:
        with log_path.open(encoding="utf-8", errors="replace") as log:
            for line in log:
                if line.startswith(RESULT_PREFIX):
                    result = json.loads(line[len(RESULT_PREFIX) :])
                elif line.strip():
                    last = line.strip()
    except FileNotFoundError:
        return None, "no log"
    return result, last[-500:]


class LocalJobs:
    backend = "local"

    def __init__(
        self,
        ledger: Ledger,
        folder: Path,
        clock: Clock,
        *,
        env: dict[str, str] | None = None,
        python: str = sys.executable,
        warm: bool = False,
    ) -> None:
        self.ledger = ledger
        self.folder = Path(folder)
        self.clock = clock
        self.env = env or {}
        self.python = python
        self._lock = threading.Lock()
        self.host = JobHost(self.folder, {**os.environ, **self.env}, python) if warm else None

    def launch(
        self, job: str, spec: JobSpec, params: dict[str, str], *, token: str, event_id: str
    ) -> JobRun:
        if not spec.entry_point:
            raise PermanentError(f"jobs.{job}.entry_point is not set in the policy")
        run_id = f"local-{uuid.uuid4().hex[:12]}"
        hold = self.ledger.acquire(f"run:{token}", run_id, now=self.clock.now())
        if not hold.held_by(run_id):
            existing = self.ledger.get_run(hold.holder)
            if existing is not None:
                return existing
            # the holder died between taking the guard and saving its run: take over
            self.ledger.release(f"run:{token}", hold.holder)
            return self.launch(job, spec, params, token=token, event_id=event_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        log_path = self.folder / f"{run_id}.log"
        args = command_line(spec.entry_point, {**spec.params, **params}, self.python)
        run = JobRun(
            run_id=run_id,
            job=job,
            backend=self.backend,
            state=RunState.RUNNING,
            event_id=event_id,
            token=token,
            params={**spec.params, **params},
            started_at=self.clock.now(),
            log_path=str(log_path),
        )
        with log_path.open("w") as log:
            log.write("$ " + " ".join(args) + "\n")
        if self.host is not None:
            pid = self.host.submit(run_id, args[2:], log_path)  # [python, -m, module, ...]
            run = run.model_copy(update={"pid": pid})
            self.ledger.save_run(run)
            threading.Thread(
                target=self._watch_hosted, args=(run,), name=f"job-{run_id}", daemon=True
            ).start()
            return run
        with log_path.open("a") as log:
            process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # a Ctrl-C to serve does not kill a training run
            )
        run = run.model_copy(update={"pid": process.pid})
        self.ledger.save_run(run)
        threading.Thread(
            target=self._watch, args=(run, process), name=f"job-{run_id}", daemon=True
        ).start()
        return run

    def _watch_hosted(self, run: JobRun) -> None:
        assert self.host is not None and run.pid is not None
        code = self.host.wait(run.run_id, run.pid)
        if code is None:  # the host ended without running it (it could not start, or died)
            self.host.cancel(run.run_id)
            with Path(run.log_path or "").open("a") as log:
                log.write(
                    f"the job host ({run.pid}) ended before this run ended; "
                    f"its log: {self.host.folder / 'host.log'}\n"
                )
        self._settle(run, code)

    def _watch(self, run: JobRun, process: subprocess.Popen) -> None:
        code = process.wait()
        self._settle(run, code)

    def _settle(self, run: JobRun, code: int | None) -> JobRun:
        with self._lock:
            current = self.ledger.get_run(run.run_id) or run
            if current.state.finished:
                return current
            result, last = result_of(Path(run.log_path or ""))
            ok = result is not None and code in (0, None)
            ended = current.model_copy(
                update={
                    "state": RunState.SUCCESS if ok else RunState.FAILED,
                    "ended_at": self.clock.now(),
                    "result": result or {},
                    "message": "" if ok else (f"exit code {code}: " if code else "") + last,
                }
            )
            self.ledger.save_run(ended)
            return ended

    def refresh(self, run: JobRun) -> JobRun:
        if run.state.finished or run.pid is None:
            return run
        host = self.host or JobHost(self.folder, {})
        code = host.exit_code(run.run_id)  # a run of a warm host: its exit file says
        if code is not None:
            return self._settle(run, code)
        if host.running(run.run_id, run.pid):
            return run
        host.cancel(run.run_id)  # never started, and settled now: no host may start it later
        return self._settle(run, None)

    def start_host(self, wait_seconds: float = 0.0) -> None:
        """Start the warm host now (``serve``'s warm-up), not on the first run; with
        ``wait_seconds``, back once it has warmed up (or ended, or that time passed)."""
        if self.host is not None:
            self.host.start()
            if wait_seconds:
                self.host.wait_ready(wait_seconds)

    def close(self) -> None:
        """Stop the warm host, if this object started one."""
        if self.host is not None:
            self.host.close()
