"""The README's "Run it locally" path, run as written: its own commands, read from the README
(never copied here), in two shells as a user would, until the version has its verdict.

What the test changes, and only this: `make install` is skipped (the suite runs installed),
`.venv/bin/` and `examples/` point at this checkout, and the ports 5000 and 8000 become free
ones (the suite may run beside a user's own servers). The shells start from an environment
without any MLFLOW_*, MLOPS_HOOKS_*, DATABRICKS_* or SLACK_* variable: the README must say
every one it needs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

from mlflow import MlflowClient

from tests.support.processes import BIN, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
FOREIGN = ("MLFLOW_", "MLOPS_HOOKS_", "DATABRICKS_", "SLACK_")


def readme_terminals() -> dict[str, str]:
    """The bash blocks of "## Run it locally" that follow a ``<!-- terminal N`` comment."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Run it locally", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"<!-- (terminal \d)[^>]*-->\s*```bash\n(.*?)```", section, re.S)
    return dict(blocks)


def as_run_here(block: str, ports: dict[str, int]) -> str:
    lines = [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    script = "\n".join(line for line in lines if not line.startswith("make install"))
    script = script.replace(".venv/bin/", f"{BIN}/").replace("examples/", f"{ROOT}/examples/")
    for port, free in ports.items():
        script = re.sub(rf"\b{port}\b", str(free), script)
    return script


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_readme_local_path_gives_a_version_its_verdict(tmp_path: Path) -> None:
    terminals = readme_terminals()
    assert sorted(terminals) == ["terminal 1", "terminal 2"], terminals
    ports = {"5000": free_port(), "8000": free_port()}
    work = tmp_path / "checkout-like"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    first_log = tmp_path / "terminal-1.log"
    first = subprocess.Popen(  # serve in the foreground, MLflow behind it (&)
        ["bash", "-ec", as_run_here(terminals["terminal 1"], ports)],
        cwd=work,
        env=env,
        stdout=first_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        mlflow_url = f"http://127.0.0.1:{ports['5000']}"
        wait_for(lambda: answers(f"{mlflow_url}/health"), 180, "the README's MLflow server")
        serve_url = f"http://127.0.0.1:{ports['8000']}"
        wait_for(lambda: answers(f"{serve_url}/healthz"), 120, "the README's serve")
        second = subprocess.run(
            ["bash", "-ec", as_run_here(terminals["terminal 2"], ports)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        assert "arrived, verified and recorded as ev_" in second.stdout
        assert "registered churn-local v1" in second.stdout

        client = MlflowClient(tracking_uri=mlflow_url)

        def verdict() -> str | None:
            return client.get_model_version("churn-local", "1").tags.get("mlops.validation")

        wait_for(verdict, 120, "churn-local v1's verdict")
        assert verdict() == "passed", first_log.read_text()
        said = first_log.read_text()
        assert "policy: built-in default" in said and "answers" in said
        # everything the path wrote is under the state dir: no mlruns/, mlartifacts/, mlflow.db
        assert sorted(os.listdir(work)) == [".mlops-hooks"]
        kept = work / ".mlops-hooks" / "local.env"
        assert kept.stat().st_mode & 0o777 == 0o600
    finally:
        os.killpg(first.pid, signal.SIGTERM)  # serve, and the MLflow server it started
        try:
            first.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
