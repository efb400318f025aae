"""Build this environment's Spark class archive (shared/adapters/spark_classes): a local
Spark session runs what the jobs run (the job host's warm-up, a CSV read, cleaning and
features, an aggregate, Arrow out) in a JVM that writes the classes it loaded when it ends.
Every later local session maps them instead of loading them one by one.

    python -m mlops_hooks.jobs.class_archive [--force]

Nothing depends on the archive: when it cannot be built this says why on one line and exits
0, and Spark starts as it always did.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops_hooks.shared.adapters.spark_classes import ENV, archive_path, dump_options
from mlops_hooks.shared.adapters.spark_tables import JAVA_OPTIONS_ENV

WORKLOAD = "--workload"


def build(force: bool = False) -> str:
    """Build the archive unless it is there; one line on what happened."""
    path = archive_path()
    if path is None:
        return f"Spark class archive: not built ({ENV}=off)"
    if path.is_file() and not force:
        return f"Spark class archive: {path} (already built)"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    env = {
        **os.environ,
        ENV: "off",  # a JVM writing an archive must not map one of its own
        "MLOPS_HOOKS_SPARK_MASTER": "local[1]",
        JAVA_OPTIONS_ENV: dump_options(partial),
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mlops_hooks.jobs.class_archive", WORKLOAD],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0 or not partial.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"warning: Spark class archive not built (Spark starts without it): {last}"
        os.replace(partial, path)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"warning: Spark class archive not built (Spark starts without it): {exc}"
    finally:
        partial.unlink(missing_ok=True)
    size = path.stat().st_size / 2**20
    return f"Spark class archive: {path} ({size:.0f} MB, {time.monotonic() - started:.0f} s)"


def workload() -> None:
    """What the jobs run, in this process's Spark session; then the JVM ends (and writes)."""
    from pyspark import SparkContext

    from mlops_hooks.jobs.features import clean, featurize
    from mlops_hooks.jobs.host import warm_up
    from mlops_hooks.shared.adapters.spark_tables import SparkTables, spark_session
    from mlops_hooks.shared.domain import churn_data

    warm_up()
    spark = spark_session("mlops-hooks-class-archive")
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "churn.csv"
        csv.write_text(churn_data.to_telco_csv(churn_data.generate(200, seed=1)))
        keep = (churn_data.LABEL, churn_data.ID)
        cleaned, _ = clean(SparkTables(spark).read(str(csv), "csv"), keep_strings=keep)
        features = featurize(cleaned, exclude=keep).cache()
        features.groupBy("Contract").count().collect()
        features.toArrow()
        features.unpersist()
    jvm = SparkContext._gateway.proc  # type: ignore[union-attr]
    spark.stop()
    jvm.stdin.close()  # the gateway JVM ends when its stdin does: the archive is written then
    jvm.wait(timeout=300)


def main() -> None:
    if WORKLOAD in sys.argv[1:]:
        workload()
        return
    parser = argparse.ArgumentParser(
        prog="python -m mlops_hooks.jobs.class_archive",
        description="Build the archive of the classes local Spark loads (faster JVM starts).",
    )
    parser.add_argument("--force", action="store_true", help="build it again")
    print(build(parser.parse_args().force), flush=True)


if __name__ == "__main__":
    main()
