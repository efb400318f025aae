"""The layers are enforced: import-linter's contracts hold on the tree and fail on a broken copy;
every module of the package imports on its own (no cycle hides behind an import order)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.layers import ROOT, SUBPACKAGES, lint_imports, package_view

IMPORT_EACH = Path(__file__).parents[1] / "support" / "import_each.py"


def test_every_contract_is_kept(tmp_path: Path) -> None:
    done = lint_imports(package_view(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 6 kept, 0 broken." in done.stdout


def test_a_handler_importing_mlflow_breaks_the_contracts(tmp_path: Path) -> None:
    view = package_view(tmp_path, copy=True)
    leak = view / "mlops_hooks" / "handlers" / "leaky.py"
    leak.write_text('"""A handler that talks to MLflow itself."""\n\nimport mlflow  # noqa\n')
    done = lint_imports(view)
    assert done.returncode == 1, done.stdout
    assert "only adapters import vendor SDKs BROKEN" in done.stdout
    assert "mlops_hooks.handlers.leaky -> mlflow" in done.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    view = package_view(tmp_path, copy=True)
    domain = view / "mlops_hooks" / "shared" / "domain" / "upward.py"
    domain.write_text("from mlops_hooks.shared.dispatch import Dispatcher  # noqa: F401\n")
    done = lint_imports(view)
    assert done.returncode == 1
    assert "mlops_hooks.shared.domain.upward -> mlops_hooks.shared.dispatch" in done.stdout


def modules() -> list[str]:
    names = ["mlops_hooks"]
    for sub in SUBPACKAGES:
        for path in sorted((ROOT / sub).rglob("*.py")):
            parts = ["mlops_hooks", *path.relative_to(ROOT).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


def import_each(
    folder: Path, *arguments: str, env: dict[str, str] | None = None, timeout: float = 300
) -> Any:
    """tests/support/import_each.py run from ``folder`` (not the repo: nothing found by
    accident): its exit, stdout (the failed modules, JSON) and stderr."""
    return subprocess.run(
        [sys.executable, "-c", IMPORT_EACH.read_text(), *arguments],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_every_module_imports_on_its_own(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLOPS_HOOKS_") and k != "PYTHONPATH"  # the installed package only
    }
    names = modules()
    assert len(names) > 80 and "mlops_hooks.functions.cli_demo" in names
    done = import_each(tmp_path, "--preload", *names, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], done.stderr


def test_a_module_that_cannot_import_is_named(tmp_path: Path) -> None:
    """The check above can fail: a module that does not import is named."""
    done = import_each(tmp_path, "json", "no_such_module", timeout=120)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["no_such_module"]
    assert "no_such_module: ModuleNotFoundError" in done.stderr


def test_every_error_we_raise_has_one_root() -> None:
    """Every exception class the package defines derives from MlopsHooksError, so the
    dispatcher can read ``retryable`` off any of them."""
    import importlib
    import inspect

    from mlops_hooks.shared.domain.errors import MlopsHooksError, is_retryable

    skip = ("mlops_hooks.jobs", "mlops_hooks.functions.lambda_")  # need Spark / a Lambda env
    defined = []
    for name in modules():
        if name.startswith(skip):
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == name:
                defined.append(cls)
    assert len(defined) >= 15
    assert [c.__qualname__ for c in defined if not issubclass(c, MlopsHooksError)] == []
    from mlops_hooks.shared.domain.errors import PermanentError, PortMissing, TableError

    assert not is_retryable(PortMissing("x")) and not is_retryable(TableError("x"))
    assert is_retryable(ConnectionError("an SDK's")) and not is_retryable(PermanentError("x"))


def test_the_command_line_imports_no_demo_code_until_the_demo_runs(tmp_path: Path) -> None:
    probe = (
        "import sys, mlops_hooks.functions.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('mlops_hooks.functions.demo')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
