"""Start real servers (MLflow, moto, `serve`) as subprocesses and stop them by their own pid.

Used by `mlops-hooks demo` and by the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
WEBHOOK_CACHE_TTL = 1  # seconds: MLFLOW_WEBHOOK_CACHE_TTL of the MLflow servers started here


def webhook_cache_expired() -> None:
    """Back once an MLflow server started here has let go of its cached webhook list, so a
    webhook just created or changed is the one it delivers with."""
    time.sleep(WEBHOOK_CACHE_TTL + 0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[httpx.Response], bool] | str = "/"  # a path that answers < 500, or a test
    timeout: float = 60  # for ``wait_ready``

    def wait_ready(self) -> Proc:
        """Back once the process answers as ready; stopped, and an error, when it exits or
        does not answer within ``timeout``."""
        ready = self.ready
        probe = f"{self.url}{ready}" if isinstance(ready, str) else self.url
        deadline = time.monotonic() + self.timeout
        # one client: httpx.get builds one and an SSL context each time (~36 ms of CPU, not ~8)
        with httpx.Client(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.popen.returncode}:\n{self.output()[-3000:]}"
                    )
                try:
                    response = http.get(probe)
                    ok = response.status_code < 500 if isinstance(ready, str) else ready(response)
                    if ok:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not become ready in {self.timeout} s:\n{self.output()[-3000:]}"
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the process (and its group), then SIGKILL if it lingers."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no cleanup, as in a crash."""
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start(
    name: str,
    cmd: list[str],
    *,
    url: str,
    ready: Callable[[httpx.Response], bool] | str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    wait: bool = True,
) -> Proc:
    """``name`` started; back once it answers as ready (``wait``), else at once (the caller
    calls ``wait_ready`` when it needs it)."""
    log = log_dir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    handle = log.open("ab")
    popen = subprocess.Popen(
        cmd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=cwd,
        start_new_session=True,  # own process group: stop() reaches its children too
    )
    handle.close()
    proc = Proc(name, popen, url, log, dict(env or {}), ready, timeout)
    if not wait:
        return proc
    try:
        return proc.wait_ready()
    except BaseException:  # a Ctrl-C or SIGTERM while it starts: the caller never gets it
        proc.stop()
        raise


def cli(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed `mlops-hooks` command, as a user would. It is given a minute more
    than a command's own wait for its outcome, so that a command that waits in vain says why
    in its own line instead of being cut off without one."""
    from mlops_hooks.functions.cli_common import ACTION_TIMEOUT_SECONDS

    return subprocess.run(
        [str(BIN / "mlops-hooks"), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=ACTION_TIMEOUT_SECONDS + 60,
    )


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
    error: type[Exception] = AssertionError,
) -> object:
    """Poll until ``predicate`` returns something truthy, and return it; ``error`` if it never
    does within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise error(f"timed out after {timeout:.0f} s waiting for {what}")


def start_moto_server(folder: Path) -> Proc:
    """moto in server mode (S3, SQS, SNS, DynamoDB, SSM ...), reached over HTTP like AWS."""
    port = free_port()
    return start(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        url=f"http://127.0.0.1:{port}",
        ready="/moto-api/",
        log_dir=folder,
    )


def start_mlflow_server(
    folder: Path,
    *,
    workspaces: bool = False,
    key: str | None = None,
    port: int | None = None,
    wait: bool = True,
    seeded: bool = True,
) -> Proc:
    """An MLflow 3 tracking server on SQLite that sends webhooks to localhost.

    A fixed Fernet key lets every server worker decrypt webhook secrets; the webhook list
    cache TTL is 1 s so a new webhook fires almost at once. Job execution is off: nothing here
    uses MLflow's job runner, and it would start about ten huey consumers of ~270 MB each.
    ``workspaces`` starts it with MLFLOW_ENABLE_WORKSPACES (teams sharing one server); ``key``
    and ``port`` restart a server on the same store (the key it stored its secrets with, or
    another one). ``wait`` False: back at once (its imports take ~6 s); ``wait_ready`` later.
    A new store starts as a copy of the migrated template (``make mlflow-store``; ``seeded``
    False: the server migrates it itself).
    """
    from cryptography.fernet import Fernet

    from mlops_hooks.functions.demo.mlflow_store import seed

    port = port or free_port()
    store = folder / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    if seeded:
        seed(store / "mlflow.db")
    env = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": str(WEBHOOK_CACHE_TTL),
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": key or Fernet.generate_key().decode(),
        "MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_ENABLE_WORKSPACES": "true" if workspaces else "false",
    }
    return start(
        "mlflow",
        [
            sys.executable,
            "-m",
            "mlops_hooks.functions.demo.mlflow_server",  # `mlflow server`, as one process
            "server",
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination",
            str(store / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        url=f"http://127.0.0.1:{port}",
        ready="/health",
        log_dir=folder,
        env=env,
        timeout=120,
        wait=wait,
    )


def start_serve_process(
    name: str, folder: Path, env: Mapping[str, str], port: int = 0, *options: str
) -> Proc:
    """`mlops-hooks serve` on ``port`` (a free one by default) with ``options``, run in and
    logging to ``folder``, once /healthz answers."""
    port = port or free_port()
    return start(
        name,
        [str(BIN / "mlops-hooks"), "serve", "--port", str(port), *options],
        url=f"http://127.0.0.1:{port}",
        ready="/healthz",
        log_dir=folder,
        env=env,
        cwd=folder,
    )
