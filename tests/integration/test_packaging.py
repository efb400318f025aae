"""What is shipped: the wheel installs one package, mlops_hooks, and its extras match the parts
that are deployed (the Lambda edge from the `edge` extra alone, with nothing else on the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import worker_set
from tests.support.worker_set import clean_env, run

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "aws_powertools"
EDGE_LIMIT_BYTES = 40 * 1024 * 1024
PROBE = ROOT / "tests" / "support" / "edge_probe.py"
WORKER_PROBE = ROOT / "tests" / "support" / "worker_probe.py"


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
    # without a pip of its own (ensurepip: ~5 s of CPU): this pip installs into it (--python)
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    pip = (sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q")
    run(*pip, "--no-compile", wheel)
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
    run(*pip, "--no-compile", f"{wheel}[cli]")
    helped = run(venv / "bin" / "mlops-hooks", "--help", cwd=tmp_path)
    assert "Event-driven MLOps on model-registry webhooks" in helped.stdout
    for command in ("serve", "events", "rollback", "jobs", "demo"):
        assert command in helped.stdout


def test_make_package_builds_an_edge_layer_that_runs_every_edge_handler_alone(
    tmp_path: Path,
) -> None:
    """The script behind `make package`, for this machine's platform (the real build targets
    arm64, which this machine cannot run): the layer's python/ alone runs every edge handler."""
    out = tmp_path / "build"
    done = run(sys.executable, ROOT / "infra" / "package.py", "--arch", "host", "--out", out)
    assert "edge layer (host" in done.stdout and "MB zipped" in done.stdout
    layer = out / "edge-layer" / "python"
    size = folder_bytes(layer)
    assert size <= EDGE_LIMIT_BYTES, f"edge layer is {size / 2**20:.1f} MB"
    with zipfile.ZipFile(out / "edge-layer.zip") as zf:
        assert "python/mlops_hooks/functions/lambda_http.py" in zf.namelist()
    assert {p.name for p in (out / "worker").iterdir()} == {
        "Dockerfile",
        "mlops.yml",
        next((out / "dist").glob("*.whl")).name,
    }
    installed = {p.name.split("-")[0].lower() for p in layer.iterdir()}
    assert installed.isdisjoint({"mlflow", "pandas", "numpy", "pyarrow", "boto3", "pyspark"})
    report = probe_edge(layer, tmp_path / "state")
    assert report["http_status"] == 202
    assert report["recorded"] == {"s3": 1, "schedule": 1, "alarm": 1}
    assert report["kinds"] == ["data_landed", "drift_detected", "model_registered", "scheduled"]
    assert report["ledger"] == "SqliteLedger" and report["site"] == []
    assert report["heavy"] == []
    print(f"edge layer: {size / 2**20:.1f} MB")


def probe_edge(path: Path, state: Path) -> dict:
    done = run(
        sys.executable,
        "-S",  # no site-packages: only the artefact
        "-c",
        PROBE.read_text(),
        state,
        FIXTURES,
        cwd=state.parent,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(path)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_worker_set_alone_validates_a_real_version(
    wheel: Path, tmp_path: Path, mlflow_server, churn
) -> None:
    """The worker image's requirement set, as pip resolves it for this machine: with nothing
    else on the path (python -S) the SQS worker function validates a version on the real MLflow
    server."""
    from mlflow import MlflowClient
    from packaging.utils import canonicalize_name

    from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import Source
    from tests.support.mlflow_models import log_and_register

    target = tmp_path / "worker"
    # pip's resolution of the set; its distributions at the versions this interpreter holds
    # linked from here, the others installed (tests/support/worker_set.py)
    wanted = worker_set.install(wheel, "worker", target)
    assert {canonicalize_name(n) for n in wanted} >= {"mlops-hooks", "mlflow-skinny", "skops"}
    installed = {p.name.split("-")[0].lower() for p in target.iterdir()}
    assert "mlflow" in installed and installed.isdisjoint({"pyspark", "flask", "moto"})
    assert not (target / "mlflow" / "server" / "js").exists()  # the full mlflow's, not the set's
    train, holdout_csv, model = churn
    name = f"worker-{uuid.uuid4().hex[:6]}"
    version = log_and_register(mlflow_server.url, name, model, train)
    policy = tmp_path / "mlops.yml"
    policy.write_text(
        f"""
models:
  - name: worker-*
    checks: {{loads: {{}}, signature: {{}}, predictions: {{}},
             metrics: {{thresholds: {{roc_auc: {{min: 0.6}}}}}}}}
    holdout: {{uri: {holdout_csv}, label: Churn}}
    promotion: {{after_validation: none}}
"""
    )
    state = tmp_path / "state"
    ledger = SqliteLedger(state / "ledger.db")
    event = events.model_registered(Source.MLFLOW, name, version)
    ledger.record(event, now=time.time())
    ledger.close()
    done = run(
        sys.executable,
        "-S",
        "-c",
        WORKER_PROBE.read_text(),
        event.id,
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(target),
            "HOME": str(tmp_path),
            "MLFLOW_TRACKING_URI": mlflow_server.url,
            "MLOPS_HOOKS_STATE_DIR": str(state),
            "MLOPS_HOOKS_POLICY": str(policy),
            "MLFLOW_DISABLE_TELEMETRY": "true",
        },
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failures"] == [] and report["site"] == []
    assert report["status"] == "done", report["error"]
    assert report["outcome"]["result"] == "passed", report["outcome"]
    assert report["outcome"]["data"]["checks"]["metrics"] == "passed"
    tags = MlflowClient(mlflow_server.url).get_model_version(name, version).tags
    assert tags["mlops.validation"] == "passed"


def test_the_stage_smoke_test_passes_on_a_healthy_edge_and_says_why_not(
    start_serve, tmp_path: Path
) -> None:
    from tests.conftest import WEBHOOK_SECRET

    serve = start_serve()
    smoke = [sys.executable, str(ROOT / "infra" / "smoke.py"), serve.url]
    env = {**os.environ, "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": WEBHOOK_SECRET}
    ok = subprocess.run(smoke, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "a signed test delivery was accepted (202)" in ok.stdout
    assert WEBHOOK_SECRET not in ok.stdout + ok.stderr
    wrong = {**env, "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "not-the-secret"}
    bad = subprocess.run(smoke, env=wrong, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stdout.startswith(
        "smoke: a signed test delivery answered 401"
    )
    down = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "smoke.py"), "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 1 and "healthz answered 0" in down.stdout
