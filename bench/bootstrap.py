"""Paired bootstrap of the AUC delta: 1,000 resamples of 100,000 rows, vectorised (the code
in shared/comparison.py) against a loop of ``sklearn.metrics.roc_auc_score`` on the same
resample indices, in one run. Target (issue 4): >= 10x faster, identical numbers.

    python bench/bootstrap.py [--rows 100000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from mlops_hooks.shared.domain.comparison import metric_bootstrap, resample_indices  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--decimals", type=int, default=3, help="round scores (ties); -1: no")
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    truth = rng.random(args.rows) < 0.27
    champion = 1 / (1 + np.exp(-(1.0 * (truth * 2 - 1) + rng.normal(size=args.rows))))
    challenger = 1 / (1 + np.exp(-(1.2 * (truth * 2 - 1) + rng.normal(size=args.rows))))
    if args.decimals >= 0:  # scores of real models tie; rounding makes that happen here
        champion, challenger = (
            np.round(champion, args.decimals),
            np.round(challenger, args.decimals),
        )
    indices = resample_indices(args.rows, args.resamples, seed=0)
    print(f"{args.resamples} paired resamples of {args.rows:,} rows, AUC delta")

    started = time.perf_counter()
    fast = metric_bootstrap("roc_auc", truth, None, challenger, indices) - metric_bootstrap(
        "roc_auc", truth, None, champion, indices
    )
    vectorised = time.perf_counter() - started

    started = time.perf_counter()
    slow = np.array(
        [
            roc_auc_score(truth[i], challenger[i]) - roc_auc_score(truth[i], champion[i])
            for i in indices
        ]
    )
    loop = time.perf_counter() - started

    worst = float(np.max(np.abs(fast - slow)))
    low, high = np.quantile(fast, [0.025, 0.975])
    print(f"vectorised: {vectorised:.2f} s")
    print(f"sklearn loop: {loop:.2f} s")
    print(f"speed-up: {loop / vectorised:.1f}x (target >= 10x)")
    print(f"largest difference between the two: {worst:.2e}; 95% interval [{low:.5f}, {high:.5f}]")
    targets = [
        Target("speed-up over the sklearn loop", loop / vectorised, "x", ">=", 10),
        Target("largest difference from the loop", worst, "", "<=", 1e-9),
    ]
    write(
        "bootstrap",
        targets,
        rows=args.rows,
        resamples=args.resamples,
        vectorised_s=vectorised,
        loop_s=loop,
        interval=[low, high],
    )
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    sys.exit(main())
