"""`mlops-hooks local-env`: the variables a laptop setup needs, the same in every terminal.

The webhook secret and MLflow's Fernet key are generated once and kept in
``<state dir>/local.env`` (mode 0600): a key generated inline would differ in the next shell,
and MLflow would then fail every delivery with an ``InvalidToken`` only its own log shows.
"""

from __future__ import annotations

import os
import secrets
import shlex
from pathlib import Path
from typing import Annotated

import typer

from mlops_hooks.functions.cli_common import fail, tell

KEPT = "local.env"


def local_env(
    mlflow_port: Annotated[int, typer.Option(help="The local MLflow server's port.")] = 5000,
    state_dir: Annotated[
        Path | None, typer.Option(help="Where the secrets are kept [MLOPS_HOOKS_STATE_DIR].")
    ] = None,
) -> None:
    """Print `export` lines for a local MLflow server and `serve` (use: eval "$(mlops-hooks
    local-env)"): the webhook secret and MLflow's webhook encryption key (created once, kept in
    the state dir), plain http and private addresses allowed, the tracking URI."""
    folder = state_dir or Path(os.environ.get("MLOPS_HOOKS_STATE_DIR") or ".mlops-hooks")
    kept = folder / KEPT
    try:
        values = _kept_or_new(kept)
    except OSError as exc:
        fail(f"cannot keep the local secrets in {kept}: {exc.strerror or exc}")
    values |= {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        "MLOPS_HOOKS_STATE_DIR": str(folder),
    }
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")
    tell(f"# secrets kept in {kept} (the same in every terminal)")


def _kept_or_new(kept: Path) -> dict[str, str]:
    """The kept secrets; created (0600) on the first run."""
    if kept.exists():
        pairs = (line.split("=", 1) for line in kept.read_text().splitlines() if "=" in line)
        return {name.strip(): value.strip() for name, value in pairs}
    from cryptography.fernet import Fernet

    values = {
        "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": secrets.token_hex(32),
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    kept.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.writelines(f"{name}={value}\n" for name, value in values.items())
    return values
