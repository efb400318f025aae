"""`make bench` (bench/all.py) runs every benchmark, and a bad name gets one readable line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.all import BENCHES

BENCH = Path(__file__).parents[2] / "bench"


def test_every_benchmark_is_run_by_make_bench() -> None:
    scripts = {
        path.stem
        for path in BENCH.glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text() and path.stem != "all"
    }
    assert len(scripts) >= 11
    assert scripts == set(BENCHES)


def test_an_unknown_benchmark_is_named_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "all.py"), "verdict", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout.strip() == (
        f"no benchmark named nope (the benchmarks: {', '.join(BENCHES)})"
    )
