"""What is shipped: the wheel installs one package, mlops_hooks, and its extras match the parts
that are deployed (the Lambda edge from the `edge` extra alone, with nothing else on the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "aws_powertools"
EDGE_LIMIT_BYTES = 40 * 1024 * 1024
PROBE = ROOT / "tests" / "support" / "edge_probe.py"


def clean_env() -> dict[str, str]:
    """No PYTHONPATH: the checkout (with its egg-info) must not look installed to pip."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(*command: str | Path, **kw) -> subprocess.CompletedProcess[str]:
    kw.setdefault("env", clean_env())
    done = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=600, **kw
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT)
    [built] = out.glob("mlops_hooks-*.whl")
    yield built


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        [top_level] = [n for n in names if n.endswith("top_level.txt")]
        assert zf.read(top_level).decode().split() == ["mlops_hooks"]
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"mlops_hooks"}
    assert "mlops_hooks/functions/lambda_http.py" in names
    assert "mlops_hooks/shared/domain/events.py" in names
    assert "mlops-hooks = mlops_hooks.functions.command:main" in entry_points
    assert "train = mlops_hooks.jobs.train:main" in entry_points
    # every source module of the tree is in the wheel (the package list is explicit)
    sources = {
        f"mlops_hooks/{p.relative_to(ROOT).as_posix()}"
        for sub in ("functions", "handlers", "shared", "jobs")
        for p in (ROOT / sub).rglob("*.py")
    }
    assert sources <= set(names), sorted(sources - set(names))


def test_a_fresh_venv_gets_mlops_hooks_and_the_command_with_its_extra(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel)
    [site] = (venv / "lib").glob("python3.*/site-packages")
    installed = {p.name for p in site.iterdir()}
    assert "mlops_hooks" in installed
    assert installed.isdisjoint({"functions", "shared", "handlers", "jobs"})
    bare = subprocess.run(
        [venv / "bin" / "mlops-hooks", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
    )  # the core alone: the command says which extra it needs, in one line
    assert bare.returncode == 2 and bare.stderr.strip().count("\n") == 0
    assert "pip install 'mlops-hooks[cli]'" in bare.stderr
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}[cli]")
    helped = run(venv / "bin" / "mlops-hooks", "--help", cwd=tmp_path)
    assert "Event-driven MLOps on model-registry webhooks" in helped.stdout
    for command in ("serve", "events", "rollback", "jobs", "demo"):
        assert command in helped.stdout


def test_the_edge_extra_alone_runs_every_lambda_edge_handler(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "edge"
    run(sys.executable, "-m", "pip", "install", "-q", "--target", target, f"{wheel}[edge]")
    size = folder_bytes(target)
    assert size <= EDGE_LIMIT_BYTES, f"edge artefact is {size / 2**20:.1f} MB"
    installed = {p.name.split("-")[0].lower() for p in target.iterdir()}
    assert installed.isdisjoint({"mlflow", "pandas", "numpy", "pyarrow", "boto3", "pyspark"})
    state = tmp_path / "state"
    done = run(
        sys.executable,
        "-S",  # no site-packages: only the artefact
        "-c",
        PROBE.read_text(),
        state,
        FIXTURES,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(target)},
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["http_status"] == 202
    assert report["recorded"] == {"s3": 1, "schedule": 1, "alarm": 1}
    assert report["kinds"] == ["data_landed", "drift_detected", "model_registered", "scheduled"]
    assert report["ledger"] == "SqliteLedger" and report["site"] == []
    assert report["heavy"] == []
    (tmp_path / "edge-size.txt").write_text(f"{size}\n")
    print(f"edge artefact: {size / 2**20:.1f} MB")
