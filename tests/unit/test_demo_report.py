"""The demo's static report comes from the /ui templates: reports rendered, values escaped."""

from __future__ import annotations

import re
from pathlib import Path

from mlops_hooks.functions.demo.report import TIMELINE, write_html
from mlops_hooks.functions.demo.story import Step
from mlops_hooks.shared.adapters.markdown import replace_section


def test_the_report_renders_the_registry_reports_and_escapes_every_value(tmp_path: Path) -> None:
    description = replace_section(
        "the author's words <img src=x onerror=alert(1)>",
        "validation",
        "| check | result |\n|---|---|\n| loads | ✅ passed |\n",
    )
    path = write_html(
        tmp_path / "report.html",
        steps=[Step("land <data>", 3.2, "5,000 rows & more")],
        timeline_rows=[["+0 s", "data_landed", "done", "0.1", "landing/x.csv", "launched"]],
        versions=[{"version": "1", "aliases": ["champion"], "description": description}],
        images=[("v1: roc.png", b"\x89PNG")],
        drift_rows=[
            {
                "feature": "tenure",
                "kind": "numeric",
                "psi": 0.31,
                "status": "drift",
                "ks": 0.2,
                "wasserstein": 1.5,
                "js_distance": float("nan"),
            }
        ],
        slack=["<!channel> *bold*"],
        failed=None,
        measured="15 steps, 233 s; peak memory 1.50 GiB",
    )
    page = path.read_text()
    assert "every step happened as expected" in page
    assert "15 steps, 233 s; peak memory 1.50 GiB" in page
    assert "land &lt;data&gt;" in page and "5,000 rows &amp; more" in page
    assert "<td>loads</td>" in page and '<svg class="mark ok"' in page and "✅" not in page
    assert "<img src=x" not in page  # a description's HTML is text
    assert "&lt;!channel&gt; *bold*" in page  # Slack text as data, not markup
    assert '<td class="num">0.310</td>' in page
    assert all(f'<th scope="col">{h}</th>' in page for h in TIMELINE)
    assert 'href="/ui"' not in page  # a file: no links to a server


def test_peak_memory_counts_the_processes_the_demo_started() -> None:
    import subprocess
    import sys

    from mlops_hooks.functions.demo.memory import PeakMemory

    grow = "x = bytearray(300_000_000); import time; time.sleep(1.5)"
    with PeakMemory(interval=0.1) as memory:
        subprocess.run([sys.executable, "-c", grow], check=True)
    assert memory.peak_bytes >= 300_000_000 and memory.processes_at_peak >= 2
    # the whole tree: under pytest that is the suite's servers too, so only the form is known
    assert re.fullmatch(
        r"peak memory \d+\.\d\d GiB \(.* process(es)? it had started then; .+ \d+\.\d\d\)",
        memory.summary(),
    )
    # the largest holders at the peak, by what they are: the child that took 300 MB is there
    assert any(size >= 300_000_000 for _, size in memory.largest_at_peak)
