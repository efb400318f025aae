"""Drift check speed: ours (shared/drift.py, numpy) against evidently's
``Report([DataDriftPreset(method="psi")])`` on the same frames, in one run.
Target (issue 19): ours ≤ 2 s and ≥ 80x faster than evidently (issue 6 asked 50x).

    python bench/drift.py [--rows 1000000]

1,000,000 reference rows and 1,000,000 current rows x 20 features (15 numeric, 5 categorical),
three numeric and one categorical feature shifted. evidently needs pandas < 3 and brings its
own dependencies, so it runs in its own virtualenv (.venv-bench, created on first use) on the
same Parquet files; its timing covers ``Report.run`` only, like ours covers the comparison only.
Both sides check the frames pandas reads from those files (pyarrow shares one object per
distinct string, as a drift check's Delta or Parquet table gives them); ours is also timed on
the frames as the generator built them (one string object per row), printed beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from bench.timing import timed_runs  # noqa: E402
from mlops_hooks.shared.domain.drift import compare_frames  # noqa: E402

BENCH_VENV = ROOT / ".venv-bench"
EVIDENTLY = """
import json, sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
started = time.perf_counter()
snapshot = Report([DataDriftPreset(method="psi")]).run(current, reference)
seconds = time.perf_counter() - started
values = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith("ValueDrift"):
        values[config["column"]] = float(metric["value"])
print(json.dumps({"seconds": seconds, "psi": values}))
"""
CATEGORIES = ["Month-to-month", "One year", "Two year", "Fiber optic", "DSL", "No"]


def frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    def make(seed: int, shifted: bool) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        data = {}
        for i in range(15):
            shift = 0.4 if shifted and i < 3 else 0.0
            data[f"num_{i:02d}"] = rng.normal(shift, 1.0, rows) * (i + 1)
        for i in range(5):
            p = np.full(len(CATEGORIES), 1 / len(CATEGORIES))
            if shifted and i == 0:
                p = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
            data[f"cat_{i}"] = rng.choice(CATEGORIES, rows, p=p)
        return pd.DataFrame(data)

    return make(1, False), make(2, True)


def evidently_python() -> Path:
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print("creating .venv-bench with evidently (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "evidently>=0.7",
                "pandas<3",
                "pyarrow",
            ],
            check=True,
        )
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    built_reference, built_current = frames(args.rows)
    print(
        f"{args.rows:,} reference + {args.rows:,} current rows x "
        f"{built_reference.shape[1]} features"
    )
    python = evidently_python()
    with tempfile.TemporaryDirectory() as folder:
        ref_path, cur_path = Path(folder) / "reference.parquet", Path(folder) / "current.parquet"
        built_reference.to_parquet(ref_path)
        built_current.to_parquet(cur_path)
        # both sides check the frames pandas reads from the same files, as a drift check
        # reads its tables; the frames as built in Python (one string object per row) too
        reference, current = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
        runs, report = timed_runs(lambda: compare_frames(reference, current), 3)
        ours = statistics.median(runs)
        built_runs, _ = timed_runs(lambda: compare_frames(built_reference, built_current), 3)
        print("running evidently ...", flush=True)
        done = subprocess.run(
            [str(python), "-c", EVIDENTLY, str(ref_path), str(cur_path)],
            check=True,
            capture_output=True,
            text=True,
        )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    by_name = {f.feature: f for f in report.features}
    flagged_ours = sorted(f for f, r in by_name.items() if r.psi >= 0.1)
    flagged_theirs = sorted(f for f, psi in theirs["psi"].items() if psi >= 0.1)
    print(f"ours (median of 3): {ours:.2f} s  (runs {', '.join(f'{r:.2f}' for r in runs)})")
    print(
        f"ours on the frames as built in Python (a string object per row): "
        f"{statistics.median(built_runs):.2f} s (runs {', '.join(f'{r:.2f}' for r in built_runs)})"
    )
    print(f"evidently DataDriftPreset(method='psi'): {theirs['seconds']:.2f} s")
    speedup = theirs["seconds"] / ours
    print(f"speed-up: {speedup:.0f}x (target >= 80x; ours <= 2 s)")
    print(f"PSI >= 0.1 — ours: {', '.join(flagged_ours)}; evidently: {', '.join(flagged_theirs)}")
    targets = [
        Target("ours, median of 3", ours, "s", "<=", 2),
        Target("speed-up over evidently", speedup, "x", ">=", 80),
    ]
    write(
        "drift",
        targets,
        rows=args.rows,
        features=reference.shape[1],
        ours_runs_s=runs,
        ours_built_frames_runs_s=built_runs,
        evidently_s=theirs["seconds"],
        flagged_ours=flagged_ours,
        flagged_evidently=flagged_theirs,
        psi_ours={f: r.psi for f, r in by_name.items()},
        psi_evidently=theirs["psi"],
    )
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    sys.exit(main())
