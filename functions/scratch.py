"""`serve`'s own temporary folder, and the folders of earlier serves that were killed.

A validation copies the model version into a temporary folder, MLflow's evaluation and the
comparison write their plots to others; each is removed when its work ends. A serve stopped
in the middle of an event (SIGKILL, a crash, a stop that outlasts its grace period) leaves
them behind, and a model can weigh hundreds of megabytes. So everything a serve writes
through ``tempfile`` goes under one folder named after its host and process id: removed
whole when the serve stops, and by the next serve on the same host once that process is
gone. Hand-written: ``tempfile`` has no notion of an owner that may die.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from mlops_hooks.shared.adapters.job_host import alive

log = logging.getLogger("mlops_hooks.serve")
PREFIX = "mlops-hooks-serve-"


def _tag() -> str:
    """This host, as a folder name may spell it (the pid alone is ambiguous between
    containers sharing a /tmp)."""
    # 16 characters: under it multiprocessing's sockets keep within AF_UNIX's 108
    host = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:16]
    return f"{PREFIX}{host or 'host'}-"


def sweep(root: Path) -> list[Path]:
    """Remove the folders this host's serves left in ``root`` whose process is gone."""
    removed, tag = [], _tag()
    for folder in root.glob(f"{tag}*"):
        pid_text = folder.name.removeprefix(tag).split("-", 1)[0]
        if not pid_text.isdigit() or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            owner = folder.stat().st_uid
        except OSError:  # gone meanwhile: another serve starting beside this one swept it
            continue
        if owner != os.getuid() or alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def claim() -> Path:
    """This process's temporary folder, made the default of ``tempfile`` (for this process,
    not for the processes it starts); the leftovers of dead serves are removed first."""
    root = Path(tempfile.gettempdir())
    if gone := sweep(root):
        log.info("removed the temporary files of %d stopped serve(s) in %s", len(gone), root)
    folder = Path(tempfile.mkdtemp(prefix=f"{_tag()}{os.getpid()}-", dir=root))
    tempfile.tempdir = str(folder)
    return folder


def release(folder: Path) -> None:
    """Back to the system's default, and the folder removed with all it holds."""
    if tempfile.tempdir == str(folder):
        tempfile.tempdir = None
    shutil.rmtree(folder, ignore_errors=True)
