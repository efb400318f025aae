"""The `mlops-hooks` command run in this process, for the calls a test makes on its way to
what it tests (a webhook to register first, a state to set up).

The same code as the installed command (typer's runner), without a new interpreter that
imports MLflow for ~2 s of CPU a call; the commands a test is about run installed, as a user
runs them (processes.cli).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping
from pathlib import Path


def cli_here(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """``processes.cli``'s result (returncode, stdout, stderr), run by typer's CliRunner in
    ``cwd`` with ``env`` over this process's environment; an error the command did not turn
    into an exit code is raised here, not hidden in the result."""
    from typer.testing import CliRunner

    from mlops_hooks.functions.cli import app

    with contextlib.chdir(cwd):
        done = CliRunner().invoke(app, list(args), env=dict(env))
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return subprocess.CompletedProcess(
        ["mlops-hooks", *args], done.exit_code, done.stdout, done.stderr
    )
