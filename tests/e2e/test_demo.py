"""`mlops-hooks demo --fast`: the whole loop, as a user runs it, asserting its timeline."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from mlops_hooks.functions.demo.processes import BIN


# The demo runs ten Spark jobs: about 240 s on this machine, twice that on a slow shared one.
# Its own bound (a stuck step fails within 240 s) sits inside the subprocess's, which sits
# inside pytest's, so a slow run still shows what the demo printed.
@pytest.mark.timeout(1000)
def test_the_demo_plays_every_step_and_records_the_timeline(tmp_path: Path) -> None:
    folder, temp = tmp_path / "demo", tmp_path / "tmp"
    temp.mkdir()
    env = {"PATH": str(BIN) + ":/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    try:
        done = subprocess.run(
            [str(BIN / "mlops-hooks"), "demo", "--fast", "--folder", str(folder)],
            capture_output=True,
            text=True,
            timeout=900,
            env={**env, "TMPDIR": str(temp)},
        )
    except subprocess.TimeoutExpired as exc:
        printed = (exc.stdout or b"") + (exc.stderr or b"")
        text = printed.decode(errors="replace") if isinstance(printed, bytes) else printed
        pytest.fail(f"the demo ran past 900 s; it printed:\n{text[-4000:]}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    steps = re.findall(r"✔ (.*?)  \(\d+ s\)", output)
    assert len(steps) == 15, output[-4000:]
    assert "-> train -> v1" in steps[1] and "v1 passed every check" in steps[2]
    assert "moved 'champion' to v1" in steps[3]
    assert "customers scored by v1" in steps[4]
    assert "-> drift_detected" in steps[5] and "reason drift" in steps[6]
    assert re.match(r"(promote|reject) v2: roc_auc [+-]\d\.\d{4} \[", steps[8])
    assert steps[9].startswith("approved by <@U0DEMOREVIEW>: v3 is champion")
    # live models: a concept shift with no data drift, retraining, shadow, live promotion
    assert "drift check: 0 of 21 features drifted" in steps[10]
    assert "live roc_auc of v3 broke its floor 0.65" in steps[11] and "v4 trained" in steps[11]
    assert "-> challenger, scored in shadow" in steps[12]
    assert "scored by v3 (v4 in shadow beside it)" in steps[13]
    assert re.match(r"promote v4 on live data: roc_auc \+0\.\d{4} \[\+", steps[14]), steps[14]
    assert "v3's next alarm retrains nothing" in steps[14]
    assert "15 steps" in output and "every step as expected" in output
    assert re.search(
        r"peak memory \d+\.\d\d GiB \(the proportional set size of the demo and the \d+ ", output
    )

    # the timeline: every kind of event, each handled
    kinds = re.findall(
        r"^\+\d+ s\s+(\w+)\s.*?\s(done|ignored|dead|failed)\s", output, flags=re.MULTILINE
    )
    seen = {kind for kind, _ in kinds}
    assert {
        "data_landed",
        "model_registered",
        "promotion_requested",
        "scheduled",
        "drift_detected",
        "approval",
        "labels_landed",
        "performance_degraded",
    } <= seen, output[-4000:]
    assert not [k for k, status in kinds if status in ("dead", "failed")]

    report = (folder / "report.html").read_text()
    assert "every step happened as expected" in report
    assert report.count("<img") >= 2  # the comparison ROC and the drift histograms
    assert "mlops-hooks promotion" in report and "drift check (monitoring table)" in report
    # the /ui templates: the registry's reports as tables, marks drawn, no echo rows
    assert "<th>check</th>" in report and '<svg class="mark ok"' in report
    assert "✅" not in report and "model_version_tag_set" not in report
    # every temporary file of the demo and of the processes it started is gone with them
    assert sorted(p.name for p in temp.iterdir()) == []


@pytest.mark.timeout(300)
def test_a_terminated_demo_stops_every_process_it_started(tmp_path: Path) -> None:
    """SIGTERM mid-way (a CI job's timeout, `kill`), and again while it stops: the stack's
    servers run in their own process groups, so only the demo can stop them; it does, and says
    it was interrupted."""
    printed = tmp_path / "demo.out"
    with printed.open("w") as sink:
        demo = subprocess.Popen(
            [str(BIN / "mlops-hooks"), "demo", "--fast", "--folder", str(tmp_path / "demo")],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={
                "PATH": str(BIN) + ":/usr/bin:/bin",
                "HOME": str(tmp_path),
                "COLUMNS": "200",
                "PYTHONUNBUFFERED": "1",
            },
        )
        try:
            tree: list[psutil.Process] = []
            deadline = time.monotonic() + 180
            # the last the stack starts: the job host (serve's warm-up starts it), its JVM
            while not {"mlops_hooks.jobs.host", "java"} <= _names(tree):
                assert demo.poll() is None, printed.read_text()[-3000:]
                assert time.monotonic() < deadline, printed.read_text()[-3000:]
                time.sleep(0.2)
                tree = psutil.Process(demo.pid).children(recursive=True)
            assert {"mlflow_server", "moto.server", "serve"} <= _names(tree), _names(tree)
            demo.send_signal(signal.SIGTERM)
            # a second SIGTERM once it is stopping the stack (its report written) stops nothing
            # short
            while "Report: " not in printed.read_text() and demo.poll() is None:
                time.sleep(0.05)
            demo.send_signal(signal.SIGTERM)
            code = demo.wait(timeout=60)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
            # Spark's JVM ends by itself once its Python driver (the job host) has ended: it
            # reads its stdin to the end, then shuts down
            left = [p for p in psutil.wait_procs(tree, timeout=30)[1] if _alive(p)]
            named = [" ".join(_cmdline(p))[:120] for p in left]  # before they are killed
            for process in left:  # not this test's to leave behind either
                process.kill()
    output = printed.read_text()
    assert not left, (f"exit {demo.returncode}", named, output[-2000:])
    assert code == 1, output[-3000:]
    assert "demo failed at: interrupted" in output, output[-3000:]


def _names(tree: list[psutil.Process]) -> set[str]:
    """Which of the stack's processes the tree holds."""
    roles = {
        "mlops_hooks.functions.demo.mlflow_server": "mlflow_server",
        "moto.server": "moto.server",
        "serve": "serve",
        "mlops_hooks.jobs.host": "mlops_hooks.jobs.host",
    }
    found = set()
    for process in tree:
        command = _cmdline(process)
        if command and Path(command[0]).name == "java":
            found.add("java")
        found |= {role for part, role in roles.items() if part in command}
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # ended while the tree was read
        return []
