"""The demo's process helpers, used by the tests too (one implementation)."""

from mlops_hooks.functions.demo.processes import (  # noqa: F401
    BIN,
    Proc,
    cli,
    free_port,
    start,
    start_mlflow_server,
    start_moto_server,
    start_serve_process,
    wait_for,
    webhook_cache_expired,
)
