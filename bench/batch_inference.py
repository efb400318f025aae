"""Batch scoring throughput: the batch job's scoring pass on local Spark against plain
``model.predict`` on one pandas frame in one process, same model, same 1,000,000 rows, same 2
cores, in one run (the median of three timed runs each); MLflow's own
``mlflow.pyfunc.spark_udf`` beside them. Target (issue 19): the job's pass ≥ 1.0x pandas, with
identical predictions.

    python bench/batch_inference.py [--rows 1000000]

The job's pass is jobs/batch_inference.py's (``mapInArrow`` over ``_score_batches``: each
Python worker loads the model once; the maps built in Arrow), over the Parquet table the
pandas side scores as one frame; every prediction is forced with the ``noop`` sink, so neither
collecting nor writing is timed, and Spark's session start-up is reported, not timed. The
Parquet is written as a table is (several files), so that both cores get work.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from bench.timing import timed_runs  # noqa: E402
from mlops_hooks.shared.adapters.spark_tables import spark_session  # noqa: E402
from mlops_hooks.shared.domain import churn_data  # noqa: E402

FILES = 8  # the table's Parquet files (a Delta table of 1M rows has several)


def median_seconds(run: Callable[[], object], times: int) -> float:
    """The median wall time of ``times`` runs (each side gets the same treatment)."""
    return statistics.median(timed_runs(run, times)[0])


def children_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's descendants, by kind: Spark's JVM (``java``) and
    its Python workers (``python``); a process gone meanwhile is left out."""
    import psutil

    spent: dict[str, float] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            kind = "java" if "java" in child.name() else "python"
            times = child.cpu_times()
        except psutil.Error:
            continue
        spent[kind] = spent.get(kind, 0.0) + times.user + times.system
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--skip-spark-udf", action="store_true", help="leave MLflow's out")
    args = parser.parse_args()
    import mlflow
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature

    from mlops_hooks.jobs.batch_inference import _score_batches, scoring_schema, ship_model
    from mlops_hooks.shared.domain.live import plan_scoring

    with tempfile.TemporaryDirectory() as folder:
        train = churn_data.generate(5000, seed=1)
        model = churn_data.train_classifier(train)
        features = train.drop(columns=[churn_data.LABEL, churn_data.ID])
        path = str(Path(folder) / "model")
        example = features.head(5)
        mlflow.sklearn.save_model(
            model,
            path,
            signature=infer_signature(example, pd.Series(model.predict(example), name="p")),
        )
        print(f"generating {args.rows:,} rows ...", flush=True)
        rows = churn_data.generate(args.rows, seed=2).drop(columns=[churn_data.LABEL])
        table = Path(folder) / "rows"
        table.mkdir()
        for n, part in enumerate(np.array_split(np.arange(args.rows), FILES)):
            rows.iloc[part].to_parquet(table / f"part-{n:03d}.parquet", index=False)
        columns = list(features.columns)

        loaded = mlflow.pyfunc.load_model(path)
        expected = np.asarray(loaded.predict(rows[columns])).astype(str)
        pandas_s = median_seconds(lambda: loaded.predict(rows[columns]), args.repeat)

        started = time.perf_counter()
        spark = spark_session("bench-batch-inference")
        startup_s = time.perf_counter() - started
        frame = spark.read.parquet(str(table)).select(churn_data.ID, *columns)
        plan, _ = plan_scoring("single", model="churn", champion="1", resolved={})
        score = functools.partial(
            _score_batches,
            plan=plan,
            locations={"1": ship_model(spark, path)},  # as the job ships it
            inputs={"1": columns},
            positive="Yes",
        )
        scored = frame.mapInArrow(score, scoring_schema(frame.schema))
        # the first pass starts the Python workers and loads the model in each (reported, not
        # in the rate; pandas' model is loaded before its clock starts too); a limit() would
        # run one task and end the other worker's pipe, leaving it cold
        started = time.perf_counter()
        scored.write.format("noop").mode("overwrite").save()
        first_s = time.perf_counter() - started
        before = children_cpu()
        job_s = median_seconds(
            lambda: scored.write.format("noop").mode("overwrite").save(), args.repeat
        )
        # where a pass's core time goes: the JVM (reading, rows to Arrow and back) and the
        # Python workers (the model and our columns), per pass
        after = children_cpu()
        pass_cpu = {k: (after[k] - before.get(k, 0.0)) / args.repeat for k in after}
        got = scored.select(churn_data.ID, "prediction").toPandas()  # not timed
        by_id = dict(zip(got[churn_data.ID], got["prediction"], strict=True))
        identical = [by_id[c] for c in rows[churn_data.ID]] == expected.tolist()

        udf_s = None
        if not args.skip_spark_udf:
            udf = mlflow.pyfunc.spark_udf(spark, path, env_manager="local")
            with_udf = frame.withColumn("p", udf(*columns))
            with_udf.write.format("noop").mode("overwrite").save()  # warm, as the job's pass
            udf_s = median_seconds(
                lambda: with_udf.write.format("noop").mode("overwrite").save(), args.repeat
            )
        cores = spark.sparkContext.defaultParallelism
        partitions = frame.rdd.getNumPartitions()
        spark.stop()

    pandas_rate, job_rate = args.rows / pandas_s, args.rows / job_s
    # the core time Spark spends per row beyond what pandas spends on the model
    overhead_us = (job_s * cores - pandas_s) / args.rows * 1e6
    print(f"pandas model.predict, one process: {pandas_s:.2f} s = {pandas_rate:,.0f} rows/s")
    print(
        f"batch job's pass on local Spark ({cores} cores, {partitions} partitions): "
        f"{job_s:.2f} s = {job_rate:,.0f} rows/s ({job_rate / pandas_rate:.2f}x pandas); "
        f"identical predictions: {identical}"
    )
    print(
        f"core time Spark adds per row: {overhead_us:.2f} µs; a pass's core seconds: JVM "
        f"{pass_cpu.get('java', 0.0):.2f}, Python workers {pass_cpu.get('python', 0.0):.2f}"
    )
    if udf_s is not None:
        print(
            f"mlflow spark_udf on the same table: {udf_s:.2f} s = {args.rows / udf_s:,.0f} rows/s "
            f"({args.rows / udf_s / pandas_rate:.2f}x pandas)"
        )
    print(
        f"(not in the figures: Spark session start-up {startup_s:.1f} s; the first pass, "
        f"which starts the Python workers and loads the model in each, {first_s:.2f} s)"
    )
    targets = [
        Target("job's pass rows/s / pandas rows/s", round(job_rate / pandas_rate, 3), "x", ">=", 1),
        Target("identical predictions", float(identical), "bool", ">=", 1.0),
    ]
    write(
        "batch_inference",
        targets,
        rows=args.rows,
        pandas_s=round(pandas_s, 3),
        pandas_rows_per_s=round(pandas_rate),
        job_pass_s=round(job_s, 3),
        job_pass_rows_per_s=round(job_rate),
        spark_core_us_added_per_row=round(overhead_us, 3),
        pass_core_s_jvm=round(pass_cpu.get("java", 0.0), 2),
        pass_core_s_python_workers=round(pass_cpu.get("python", 0.0), 2),
        spark_udf_s=None if udf_s is None else round(udf_s, 3),
        spark_udf_rows_per_s=None if udf_s is None else round(args.rows / udf_s),
        spark_cores=cores,
        spark_partitions=partitions,
        spark_startup_s=round(startup_s, 1),
        spark_first_pass_s=round(first_s, 3),
    )
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    sys.exit(main())
