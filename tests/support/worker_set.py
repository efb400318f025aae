"""The worker image's requirement set in a folder, as ``pip install --target DIR '<wheel>[worker]'``
would leave it, built in a third of the time.

pip resolves the set for this machine (``--dry-run --report``: the same resolution as the real
install). A distribution this interpreter already holds at the resolved version is linked from
its site-packages, file by file as its RECORD lists them (with the bytecode pip compiled there);
the others, and the project's wheel, pip installs into the folder for real. Unpacking the whole
set (~760 MB) took ~12 s and every process importing from it compiled the modules it imported
again. pip has no option for this (hand-written: pip installs, it does not link).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name, parse_wheel_filename


def resolve(requirement: str, env: Mapping[str, str], report: Path) -> dict[str, str]:
    """{distribution name: version} pip would install for ``requirement`` into an empty place."""
    command = [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed"]
    run([*command, "--report", str(report), requirement], env)
    return {
        item["metadata"]["name"]: item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }


def run(command: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=dict(env))
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


def _files(dist: metadata.Distribution) -> list[PurePosixPath]:
    """The distribution's files inside site-packages (not its scripts in ../../bin)."""
    return [PurePosixPath(str(f)) for f in dist.files or () if ".." not in PurePosixPath(f).parts]


def _owners() -> dict[str, set[str]]:
    """{top-level name in site-packages: the installed distributions with files under it}."""
    owners: dict[str, set[str]] = defaultdict(set)
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for f in _files(dist):
            owners[f.parts[0]].add(name)
    return owners


def install(wheel: Path, extra: str, folder: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The set ``<wheel>[extra]`` installed in ``folder``; returns {name: version} of the set."""
    project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
    wanted = resolve(f"{wheel}[{extra}]", env, folder.parent / f"{extra}-report.json")
    linked, real = [], [str(wheel)]
    for name, version in wanted.items():
        if canonicalize_name(name) == project:
            continue  # the wheel itself, installed for real
        try:
            here: metadata.Distribution | None = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            here = None
        if here is None or here.version != version or _is_editable(here):
            real.append(f"{name}=={version}")
        else:
            linked.append(here)
    folder.mkdir(parents=True, exist_ok=True)
    # the real ones first: pip --target leaves out a top-level folder that is already there
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile"]
    run([*pip, "--target", str(folder), *real], env)
    owners = _owners()
    for dist in linked:
        site = Path(str(dist.locate_file("")))
        own = canonicalize_name(dist.metadata["Name"])
        files = _files(dist)
        # a folder only this distribution fills is linked whole; a shared one (a namespace
        # package, mlflow-skinny's files under the full mlflow's folder) file by file
        whole = {
            f.parts[0]
            for f in files
            if owners[f.parts[0]] == {own} and not (folder / f.parts[0]).exists()
        }
        for top in whole:
            (folder / top).symlink_to(site / top)
        for f in files:
            if f.parts[0] not in whole and not (folder / f).exists():
                (folder / f).parent.mkdir(parents=True, exist_ok=True)
                (folder / f).symlink_to(site / f)
    return wanted


def _is_editable(dist: metadata.Distribution) -> bool:
    direct = dist.read_text("direct_url.json")
    return bool(direct) and json.loads(direct).get("dir_info", {}).get("editable", False)
