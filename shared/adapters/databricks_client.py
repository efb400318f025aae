"""One WorkspaceClient per adapter, from settings: databricks-sdk's own retries (429 with
Retry-After, 5xx, connection errors) for up to ``databricks_retry_timeout_seconds``."""

from __future__ import annotations

from typing import Any


def workspace_client(
    host: str | None, token: str | None, *, retry_timeout_seconds: int = 60
) -> tuple[Any, str]:
    """(WorkspaceClient, its host URL)."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    config = Config(host=host, token=token, retry_timeout_seconds=retry_timeout_seconds)
    return WorkspaceClient(config=config), str(config.host).rstrip("/")
