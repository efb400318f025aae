"""batch_inference: score a table with the champion and append the predictions to Delta.

    python -m mlops_hooks.jobs.batch_inference --model churn --input s3://landing/churn/latest.csv \
        --output .mlops-hooks/tables/churn/predictions

Loads ``models:/NAME@champion`` (the alias resolved to its version once, so every row carries
the version that scored it) as ``mlflow.pyfunc.spark_udf``; builds the same features as
training (jobs/features.py); appends ``prediction``, ``model_version``, ``scored_at`` and the
partition column ``score_date`` (the schedule's logical date, so a re-run or a late run lands
in its own day's window) to the output Delta table.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from mlops_hooks.jobs.cli import JobError, parser, run
from mlops_hooks.jobs.features import clean, featurize


def build_parser() -> argparse.ArgumentParser:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("--alias", default="champion")
    p.add_argument("--input", required=True, help="table to score: CSV, Parquet or Delta")
    p.add_argument("--format", default="auto", choices=["auto", "csv", "parquet", "delta"])
    p.add_argument("--output", required=True, help="Delta table the predictions are appended to")
    p.add_argument("--label", default="Churn", help="dropped from the inputs if present")
    p.add_argument(
        "--score-date",
        default="",
        help="the partition the rows belong to, YYYY-MM-DD (a schedule's logical date) [today]",
    )
    p.add_argument("--id-columns", default="", help="comma separated row ids; kept, not scored")
    return p


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def batch_inference(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    from mlflow import MlflowClient
    from pyspark.sql import functions as F

    from mlops_hooks.shared.adapters.spark_tables import SparkTables, spark_session

    started = time.monotonic()
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    try:
        version = MlflowClient().get_model_version_by_alias(args.model, args.alias).version
    except Exception as exc:
        raise JobError(f"{args.model} has no {args.alias!r} alias: {exc}") from None
    uri = f"models:/{args.model}/{version}"
    inputs = mlflow.models.get_model_info(uri).signature
    names = [c.name for c in inputs.inputs] if inputs and inputs.inputs else None
    if not names:
        raise JobError(f"{uri} has no input signature: cannot tell which columns to score")

    spark = spark_session(f"batch-inference-{args.model}")
    tables = SparkTables(spark)
    ids = tuple(c for c in (s.strip() for s in args.id_columns.split(",")) if c)
    try:
        raw = tables.read(args.input, args.format)
    except Exception as exc:
        raise JobError(f"cannot read {args.input}: {exc}") from None
    if args.label in raw.columns:
        raw = raw.drop(args.label)
    cleaned, _ = clean(raw, keep_strings=(args.label, *ids))
    features = featurize(cleaned, exclude=(args.label, *ids))
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise JobError(f"{args.input} lacks the model's input columns: {', '.join(missing)}")
    predict = mlflow.pyfunc.spark_udf(spark, uri, env_manager="local")
    scored = (
        features.withColumn("prediction", predict(*names))
        .withColumn("model_version", F.lit(str(version)))
        .withColumn("scored_at", F.current_timestamp())
        .withColumn(
            "score_date",
            F.to_date(F.lit(args.score_date)) if args.score_date else F.to_date("scored_at"),
        )
    ).cache()
    rows = scored.count()
    table_version = tables.write_delta(
        scored, args.output, mode="append", partition_by=["score_date"]
    )
    scored.unpersist()
    return {
        "model": args.model,
        "version": str(version),
        "rows": rows,
        "output": args.output,
        "output_version": table_version,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    run(batch_inference, arguments(argv))


if __name__ == "__main__":
    main()
