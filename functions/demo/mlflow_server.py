"""``mlflow server`` as one process.

MLflow's CLI starts uvicorn as a child and waits on it, which keeps a second interpreter with
MLflow imported (~200 MB) for the server's whole life. Here the CLI's last step replaces this
process with uvicorn (exec) instead, so the server is one process, stopped by its own pid.
Hand-written because MLflow has no option for it; if MLflow moves where it starts the child,
the CLI simply runs as it always did.

    python -m mlops_hooks.functions.demo.mlflow_server server --backend-store-uri ... --port N
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _exec_instead(command: list[str], *, extra_env: dict[str, str] | None = None, **_: Any) -> Any:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], list(command), {**os.environ, **(extra_env or {})})  # noqa: S606


def main() -> None:
    import mlflow.server
    from mlflow.cli import cli

    if hasattr(mlflow.server, "_exec_cmd"):
        mlflow.server._exec_cmd = _exec_instead
    cli(prog_name="mlflow")


if __name__ == "__main__":
    main()
