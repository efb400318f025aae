"""Run import-linter's contracts (pyproject.toml) over the mlops_hooks package.

grimp, import-linter's graph builder, finds a package's modules by walking the one folder the
package lives in; ours maps ``mlops_hooks.functions`` etc. onto the project's top-level
folders (pyproject.toml's package-dir), so it is given a view: a folder holding
``mlops_hooks/`` whose subpackages are links to (or copies of) those folders.

    python -m tests.support.layers          # exit 0 when every contract is kept
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUBPACKAGES = ("functions", "handlers", "shared", "jobs")


def package_view(folder: Path, *, copy: bool = False) -> Path:
    """``folder/mlops_hooks`` over the source tree (links, or copies to change freely)."""
    package = folder / "mlops_hooks"
    package.mkdir(parents=True)
    shutil.copy(ROOT / "mlops_hooks" / "__init__.py", package / "__init__.py")
    for name in SUBPACKAGES:
        if copy:
            shutil.copytree(
                ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (package / name).symlink_to(ROOT / name, target_is_directory=True)
    return folder


def lint_imports(view: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the view, with the project's contracts; never the installed copy."""
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=view,
        env={**os.environ, "PYTHONPATH": str(view)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlops-hooks-layers-") as folder:
        done = lint_imports(package_view(Path(folder)))
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
