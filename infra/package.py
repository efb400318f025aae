"""`make package`: the deployable artefacts of serverless.yml, from the project's wheel.

- ``build/edge-layer.zip``: a Lambda layer (``python/`` inside) with mlops-hooks and its
  ``edge`` extra, for the architecture and runtime serverless.yml names (pip's
  ``--platform manylinux2014_<arch> --only-binary=:all: --python-version``); its size is
  printed and held to the budget (50 MB unzipped, far under Lambda's 250 MB);
- ``build/worker/``: the worker image's build context (infra/worker/Dockerfile, the wheel, the
  policy), built and pushed by the deploy workflow (no container daemon here).

    python infra/package.py [--arch arm64|x86_64|host] [--out build]

``--arch host`` installs for this machine instead (the suite runs that layer with ``python -S``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDGE_BUDGET_BYTES = 50 * 1024 * 1024
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def build_wheel(out: Path) -> Path:
    """The project's wheel, built from a copy of the tree (no stale build/ folder leaks in)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "src"
        shutil.copytree(
            ROOT,
            source,
            ignore=shutil.ignore_patterns(
                ".git",
                ".venv*",
                "node_modules",
                "build",
                "dist",
                "*.egg-info",
                "__pycache__",
                ".mlops-hooks",
                ".serverless",
                "bench",
            ),
        )
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
            check=True,
        )
    [wheel] = sorted(out.glob("mlops_hooks-*.whl"))
    return wheel


def install_edge(wheel: Path, target: Path, arch: str, python_version: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target)]
    if arch != "host":
        command += [
            "--platform",
            PLATFORMS[arch],
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--only-binary=:all:",
        ]
    subprocess.run([*command, f"{wheel}[edge]"], check=True)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def zip_folder(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(folder.parent).as_posix())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=[*PLATFORMS, "host"], default="arm64")
    parser.add_argument("--python-version", default="3.11")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for old in ("edge-layer", "worker", "dist"):
        shutil.rmtree(out / old, ignore_errors=True)
    (out / "edge-layer.zip").unlink(missing_ok=True)
    wheel = build_wheel(out / "dist")
    print(f"wheel: {wheel.name} ({wheel.stat().st_size / 1024:.0f} KB)")

    layer = out / "edge-layer" / "python"  # Lambda puts a layer's python/ on sys.path
    install_edge(wheel, layer, args.arch, args.python_version)
    size = folder_bytes(layer)
    zip_folder(layer, out / "edge-layer.zip")
    zipped = (out / "edge-layer.zip").stat().st_size
    print(
        f"edge layer ({args.arch}, Python {args.python_version}): {size / 2**20:.1f} MB "
        f"unzipped, {zipped / 2**20:.1f} MB zipped -> {out / 'edge-layer.zip'}"
    )
    if size > EDGE_BUDGET_BYTES:
        print(f"error: the edge layer is over its {EDGE_BUDGET_BYTES // 2**20} MB budget")
        return 1

    context = out / "worker"
    context.mkdir()
    shutil.copy(ROOT / "infra" / "worker" / "Dockerfile", context / "Dockerfile")
    shutil.copy(wheel, context / wheel.name)
    shutil.copy(ROOT / "examples" / "mlops.yml", context / "mlops.yml")
    print(f"worker image context: {context} (docker build --platform linux/{args.arch} ...)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
