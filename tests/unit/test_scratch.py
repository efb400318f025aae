"""serve's temporary folder: its own while it runs, and those of dead serves swept away."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mlops_hooks.functions import scratch


def dead_pid() -> int:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(gone.stdout)


def test_the_sweep_removes_only_this_hosts_folders_whose_process_is_gone(tmp_path: Path) -> None:
    tag, pid = scratch._tag(), dead_pid()
    dead = tmp_path / f"{tag}{pid}-abc"
    alive = tmp_path / f"{tag}{os.getpid()}-abc"
    other_host = tmp_path / f"{scratch.PREFIX}elsewhere-{pid}-abc"
    odd = tmp_path / f"{tag}notapid-abc"
    for folder in (dead, alive, other_host, odd):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "model.skops").write_bytes(b"x" * 1000)
    assert scratch.sweep(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and other_host.exists() and odd.exists()


def test_claim_makes_the_folder_tempfiles_default_and_release_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    leftover = tmp_path / f"{scratch._tag()}{dead_pid()}-xyz"
    leftover.mkdir()
    folder = scratch.claim()
    assert folder.parent == tmp_path and folder.name.startswith(f"{scratch._tag()}{os.getpid()}-")
    assert not leftover.exists()  # a dead serve's, swept on the way
    written = Path(tempfile.mkdtemp(prefix="mlops-hooks-model-"))
    assert written.parent == folder
    scratch.release(folder)
    assert not folder.exists() and tempfile.tempdir is None


def test_serves_starting_together_sweep_side_by_side(tmp_path: Path) -> None:
    """Two serves starting at once both find a dead serve's folder; the one that comes second
    finds it gone (the suite starts serves on both its workers) and must start all the same."""
    from concurrent.futures import ThreadPoolExecutor

    tag, pid = scratch._tag(), dead_pid()
    for n in range(300):
        (tmp_path / f"{tag}{pid}-{n:04d}" / "model").mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        swept = list(pool.map(lambda _: scratch.sweep(tmp_path), range(4)))
    assert list(tmp_path.iterdir()) == []
    assert sum(len(s) for s in swept) >= 300
