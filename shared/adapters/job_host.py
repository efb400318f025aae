"""The warm job host's client side: start it once, hand it runs, learn how they ended.

The host (jobs/host.py) is one long-lived process with Spark and MLflow warm; runs go to it as
request files and come back as exit-code files, so a later process settles a run from its files
(``exit_code``, ``running``) and takes a run that never started out of the queue (``cancel``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HOST_MODULE = "mlops_hooks.jobs.host"
POLL_SECONDS = 0.05


class JobHost:
    def __init__(self, folder: Path, env: dict[str, str], python: str = sys.executable) -> None:
        self.folder = Path(folder)
        self.queue = self.folder / "queue"
        self.env = env
        self.python = python
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> int:
        """The host's pid, started when there is none (or it has ended)."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self.queue.mkdir(parents=True, exist_ok=True)
                with (self.folder / "host.log").open("a") as log:
                    self._process = subprocess.Popen(
                        [self.python, "-m", HOST_MODULE, str(self.folder)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=self.env,
                        start_new_session=True,  # a Ctrl-C to serve does not kill a job
                    )
            return self._process.pid

    def submit(self, run_id: str, argv: list[str], log_path: Path) -> int:
        """Queue one run (``argv``: the module, then its arguments); the host's pid."""
        pid = self.start()
        write_whole(self.queue / f"{run_id}.json", json.dumps({"argv": argv, "log": str(log_path)}))
        return pid

    def wait_ready(self, timeout: float) -> bool:
        """Until the started host has warmed up (its ready marker), or ended, or ``timeout``."""
        process = self._process
        if process is None:
            return False
        marker = ready_marker(self.folder, process.pid)
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def exit_code(self, run_id: str) -> int | None:
        try:
            return int((self.folder / f"{run_id}.exit").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def running(self, run_id: str, pid: int | None) -> bool:
        """Is the run queued, or being run by a live host?"""
        if (self.queue / f"{run_id}.json").exists():
            return self._process is not None and self._process.poll() is None
        try:
            holder = int((self.folder / f"{run_id}.running").read_text())
        except (FileNotFoundError, ValueError):
            holder = pid if self.exit_code(run_id) is None else None
        return holder is not None and alive(holder)

    def wait(self, run_id: str, pid: int) -> int | None:
        """The run's exit code once it has one; None when its host ended without one."""
        while True:
            code = self.exit_code(run_id)
            if code is not None:
                return code
            if not self.running(run_id, pid):
                return self.exit_code(run_id)
            time.sleep(POLL_SECONDS)

    def cancel(self, run_id: str) -> None:
        """Take a run that was never started out of the queue (its run was settled without it)."""
        (self.queue / f"{run_id}.json").unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the host this object started (by its pid), after the run it is running."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # SIGTERM: an idle host leaves at once; one running a job leaves when that run
            # ends (it is not cut short, as a job in its own process was not)
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)


def ready_marker(folder: Path, pid: int) -> Path:
    """The file a host writes once warm (and removes when it leaves)."""
    return folder / f"host-{pid}.ready"


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` so that a reader sees the whole file or none (a rename of a full one)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def alive(pid: int) -> bool:
    """Is the process there? (A zombie, ended but not yet reaped, is not.)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
