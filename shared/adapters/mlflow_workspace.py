"""MLflow 3 workspaces: the calls of one registry view run in its workspace.

Hand-written because MLflow offers no per-client workspace: its client reads the active
workspace from a ContextVar and, in the threads it starts itself (the artifact downloads of
``load_model``), from the ``MLFLOW_WORKSPACE`` environment variable. ``WorkspaceContext`` sets
both, and the variable is process-wide, so while one thread works in team-a no other thread may
work in another workspace: calls in a workspace hold one process lock. A process that never
sees a workspace (a server without MLFLOW_ENABLE_WORKSPACES) never takes the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.RLock()
_seen = threading.Event()  # set once: from then on every call agrees on the variable


@contextmanager
def workspace_scope(workspace: str | None) -> Iterator[None]:
    if workspace is None and not _seen.is_set():
        yield
        return
    from mlflow.utils.workspace_context import WorkspaceContext

    _seen.set()
    with _LOCK, WorkspaceContext(workspace):
        yield


def with_workspace(url: str, workspace: str | None) -> str:
    """A UI link that opens in the workspace (MLflow's own links add ``?workspace=``)."""
    return url if workspace is None else f"{url}?workspace={workspace}"
