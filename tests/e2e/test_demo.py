"""`mlops-hooks demo --fast`: the whole loop, as a user runs it, asserting its timeline."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mlops_hooks.functions.demo.processes import BIN


# The demo runs ten Spark jobs: about 240 s on this machine, twice that on a slow shared one.
# Its own bound (a stuck step fails within 240 s) sits inside the subprocess's, which sits
# inside pytest's, so a slow run still shows what the demo printed.
@pytest.mark.timeout(1000)
def test_the_demo_plays_every_step_and_records_the_timeline(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    try:
        done = subprocess.run(
            [str(BIN / "mlops-hooks"), "demo", "--fast", "--folder", str(folder)],
            capture_output=True,
            text=True,
            timeout=900,
            env={"PATH": str(BIN) + ":/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
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
