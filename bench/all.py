"""Every benchmark, one after another (what `make bench` runs), then one table of all their
targets. A benchmark whose targets are not all met does not stop the ones after it (each exits
2 then); one that fails to run (no fresh bench/results/<name>.json) is named at the end.

Exit status: 0 every target met, 2 some target not met, 1 some benchmark did not run.

    python bench/all.py [NAME ...]     # NAME: e.g. verdict drift (default: every one)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import result_file, target_line  # noqa: E402

# name -> its arguments; in this order (the quick, noise-sensitive ones first)
BENCHES: dict[str, list[str]] = {
    "ingress": ["--neighbour"],
    "verdict": [],
    "bootstrap": [],
    "batch_inference": [],
    "drift": [],
    "aws_rehearsal": [],
    "soak": [],
    "fuzz": [],
    "sweep": [],
    "shadow": [],
    "ui": [],
}


def run(name: str) -> tuple[int, float, dict | None]:
    """Run one benchmark with this interpreter; its exit status, seconds and fresh results."""
    result = result_file(name)
    started = time.time()
    print(f"\n=== bench/{name}.py {' '.join(BENCHES[name])}".rstrip(), flush=True)
    status = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *BENCHES[name]], cwd=ROOT
    ).returncode
    seconds = time.time() - started
    fresh = result.is_file() and result.stat().st_mtime >= started
    return status, seconds, json.loads(result.read_text()) if fresh else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHES))
    args = parser.parse_args()
    if unknown := [n for n in args.names if n not in BENCHES]:
        print(f"no benchmark named {', '.join(unknown)} (the benchmarks: {', '.join(BENCHES)})")
        return 1
    outcomes = {name: run(name) for name in args.names or BENCHES}

    print("\nall benchmarks: targets")
    failed, unmet = [], 0
    for name, (status, seconds, results) in outcomes.items():
        if results is None:
            failed.append(name)
            print(f"  {name:16} did not run to its end (exit {status}, {seconds:.0f} s)")
            continue
        for t in results["targets"]:
            unmet += not t["met"]
            print(f"  {name:16} {target_line(t)}")
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} ran; {unmet} target(s) not met")
    if failed:
        print(f"did not run: {', '.join(failed)} (their output is above)")
        return 1
    return 2 if unmet else 0


if __name__ == "__main__":
    sys.exit(main())
