"""The worker image's requirement set in a folder, as ``pip install --target DIR '<wheel>[worker]'``
would leave it, built in a third of the time.

pip resolves the set for this machine (``--dry-run --report``: the same resolution as the real
install). A distribution this interpreter already holds at the resolved version is linked from
its site-packages, file by file as its RECORD lists them (with the bytecode pip compiled there);
the others, and the project's wheel, pip installs into the folder for real. Unpacking the whole
set (~760 MB) took ~12 s and every process importing from it compiled the modules it imported
again. pip has no option for this (hand-written: pip installs, it does not link).

Also the packaging tests' way of running a command (``run``, in ``clean_env``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import canonicalize_name, parse_wheel_filename


def clean_env() -> dict[str, str]:
    """No PYTHONPATH: the checkout (with its egg-info) must not look installed to pip."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(*command: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    """A packaging command that must succeed (its output in the failure), with clean_env()."""
    kw.setdefault("env", clean_env())
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=600, **kw
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def resolve(requirement: str, report: Path) -> dict[str, str]:
    """{distribution name: version} pip would install for ``requirement`` into an empty place."""
    pip = [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed"]
    run(*pip, "--report", report, requirement)
    return {
        item["metadata"]["name"]: item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }


def _files(dist: metadata.Distribution) -> list[PurePosixPath]:
    """The distribution's files inside site-packages (not its scripts in ../../bin)."""
    paths = (PurePosixPath(str(f)) for f in dist.files or ())
    return [path for path in paths if ".." not in path.parts]


def install(wheel: Path, extra: str, folder: Path) -> dict[str, str]:
    """The set ``<wheel>[extra]`` installed in ``folder``; returns {name: version} of the set."""
    project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
    wanted = resolve(f"{wheel}[{extra}]", folder.parent / f"{extra}-report.json")
    installed: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():  # the first of a name, as metadata.distribution()
        installed.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    files = {name: _files(dist) for name, dist in installed.items()}
    owners: dict[str, set[str]] = defaultdict(set)  # top-level name -> distributions under it
    for name, paths in files.items():
        for path in paths:
            owners[path.parts[0]].add(name)
    linked, real = [], [str(wheel)]
    for name, version in wanted.items():
        key = canonicalize_name(name)
        if key == project:
            continue  # the wheel itself, installed for real
        here = installed.get(key)
        if here is None or here.version != version or _is_editable(here):
            real.append(f"{name}=={version}")
        else:
            linked.append(key)
    folder.mkdir(parents=True, exist_ok=True)
    # the real ones first: pip --target leaves out a top-level folder that is already there
    pip = (sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile")
    run(*pip, "--target", folder, *real)
    for name in linked:
        site = Path(str(installed[name].locate_file("")))
        # a folder only this distribution fills is linked whole; a shared one (a namespace
        # package, mlflow-skinny's files under the full mlflow's folder) file by file
        tops = {path.parts[0] for path in files[name]}
        whole = {t for t in tops if owners[t] == {name} and not (folder / t).exists()}
        for top in whole:
            (folder / top).symlink_to(site / top)
        for path in files[name]:
            if path.parts[0] not in whole and not (folder / path).exists():
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / path).symlink_to(site / path)
    return wanted


def _is_editable(dist: metadata.Distribution) -> bool:
    direct = dist.read_text("direct_url.json")
    return bool(direct) and json.loads(direct).get("dir_info", {}).get("editable", False)
