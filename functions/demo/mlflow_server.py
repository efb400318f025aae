"""``mlflow server`` as one process.

MLflow's CLI starts uvicorn as a child and waits on it, which keeps a second interpreter with
MLflow imported (~200 MB) for the server's whole life, and makes that child import MLflow again
(~3 s of CPU). Here the CLI's last step runs uvicorn's command line in this process instead
(any other server command replaces this process: exec), so the server is one process, stopped
by its own pid. Hand-written because MLflow has no option for it; if MLflow moves where it
starts the child, the CLI simply runs as it always did.

    python -m mlops_hooks.functions.demo.mlflow_server server --backend-store-uri ... --port N
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _serve_here(command: list[str], *, extra_env: dict[str, str] | None = None, **_: Any) -> Any:
    os.environ.update(extra_env or {})
    if command[1:3] == ["-m", "uvicorn"]:
        # uvicorn's own command line, run here: MLflow is imported already, and a new
        # interpreter would spend ~3 s of CPU importing it again
        import uvicorn.main

        uvicorn.main.main(args=command[3:], prog_name="uvicorn")
        sys.exit(0)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], list(command))  # noqa: S606


def main() -> None:
    import mlflow.server
    from mlflow.cli import cli

    if hasattr(mlflow.server, "_exec_cmd"):
        mlflow.server._exec_cmd = _serve_here
    cli(prog_name="mlflow")


if __name__ == "__main__":
    main()
