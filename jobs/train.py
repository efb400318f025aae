"""train: landed data -> cleaned features (Delta) + holdout (Delta) -> a new model version.

    python -m mlops_hooks.jobs.train --data s3://landing/churn/2026-11-23.csv --model churn \
        --features-table .mlops-hooks/tables/churn/features \
        --holdout-table .mlops-hooks/tables/churn/holdout

Spark reads, cleans and builds the features and splits the holdout; the policy's scikit-learn
pipeline is fitted on the driver; MLflow gets params, holdout metrics, signature, input example,
the training data as a run input, and the registered version (which arrives back as a
``model_registered`` event and is validated). The run's tags name the event that launched it.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from mlops_hooks.jobs.cli import JobError, parse_tags, parser, run
from mlops_hooks.jobs.features import clean, featurize
from mlops_hooks.shared.domain import tags


def build_parser() -> argparse.ArgumentParser:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="CSV, Parquet or Delta; local path or s3://")
    p.add_argument("--format", default="auto", choices=["auto", "csv", "parquet", "delta"])
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("--label", default="Churn")
    p.add_argument("--id-columns", default="", help="comma separated row ids; not features")
    p.add_argument("--features-table", required=True, help="Delta table written with features")
    p.add_argument("--holdout-table", required=True, help="Delta table written with the holdout")
    p.add_argument("--holdout-fraction", type=float, default=0.2)
    p.add_argument("--estimator", default="logistic_regression")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--experiment", default=None, help="default: /mlops-hooks/<model>")
    p.add_argument("--tags", default="", help="extra run tags: k=v,k2=v2")
    return p


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def train(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from pyspark.sql import functions as F

    from mlops_hooks.shared.adapters.spark_tables import SparkTables, spark_session
    from mlops_hooks.shared.domain.metrics import CLASSIFIER_METRICS, metric_value
    from mlops_hooks.shared.domain.policy import Holdout
    from mlops_hooks.shared.domain.scoring import Labels, is_positive
    from mlops_hooks.shared.domain.training import SKOPS_TRUSTED_TYPES, TrainingError, fit

    started = time.monotonic()
    if not 0 < args.holdout_fraction < 1:
        raise JobError("--holdout-fraction must be between 0 and 1")
    ids = tuple(c for c in (s.strip() for s in args.id_columns.split(",")) if c)
    spark = spark_session(f"train-{args.model}")
    tables = SparkTables(spark)
    try:
        landed = tables.read(args.data, args.format)
    except Exception as exc:
        raise JobError(f"cannot read {args.data}: {exc}") from None
    if args.label not in landed.columns:
        raise JobError(f"label column {args.label!r} is not in {args.data}")
    cleaned, cleaning = clean(landed, keep_strings=(args.label, *ids))
    features = featurize(cleaned, exclude=(args.label, *ids))
    split = features.withColumn("_holdout", F.rand(args.seed) < args.holdout_fraction).cache()
    feature_version = tables.write_delta(split.drop("_holdout"), args.features_table)
    holdout_sdf = split.filter("_holdout").drop("_holdout")
    holdout_version = tables.write_delta(holdout_sdf, args.holdout_table)
    train_pdf = split.filter("NOT _holdout").drop("_holdout").toPandas()
    holdout_pdf = holdout_sdf.toPandas()
    split.unpersist()
    if len(train_pdf) < 10 or len(holdout_pdf) < 2:
        raise JobError(f"too few rows to train: {len(train_pdf)} train, {len(holdout_pdf)} holdout")

    try:
        pipeline, columns = fit(
            train_pdf, args.label, estimator=args.estimator, id_columns=ids, seed=args.seed
        )
    except TrainingError as exc:
        raise JobError(str(exc)) from None
    positive = Labels.of(train_pdf[args.label], Holdout(label=args.label)).positive
    if positive is None:
        raise JobError(f"label {args.label!r} is not binary: the train job fits binary classifiers")
    truth = is_positive(holdout_pdf[args.label].to_numpy(), positive)
    predicted = pipeline.predict(holdout_pdf[columns])
    proba = pipeline.predict_proba(holdout_pdf[columns])
    scores = proba[:, list(pipeline.classes_).index(positive)]
    metrics = {
        f"holdout_{name}": metric_value(name, truth, is_positive(predicted, positive), scores)
        for name in CLASSIFIER_METRICS
    }

    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment or f"/mlops-hooks/{args.model}")
    run_tags = {
        tags.TRIGGER_EVENT: args.event_id or "manual",
        tags.TRIGGER_REASON: args.reason,
        tags.TRIGGER_DATA: args.data,
        **parse_tags(args.tags),
    }
    example = holdout_pdf[columns].head(5)
    with mlflow.start_run(run_name=f"train-{args.model}", tags=run_tags) as active:
        mlflow.log_params(
            {
                "data": args.data,
                "estimator": args.estimator,
                "label": args.label,
                "positive_label": positive,
                "seed": args.seed,
                "holdout_fraction": args.holdout_fraction,
                "features": len(columns),
                "train_rows": len(train_pdf),
                "holdout_rows": len(holdout_pdf),
                "features_table": args.features_table,
                "features_table_version": feature_version,
                "holdout_table": args.holdout_table,
                "holdout_table_version": holdout_version,
                **{f"cleaning.{k}": v for k, v in cleaning.notes.items()},
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_input(
            mlflow.data.from_pandas(train_pdf, source=args.data, name=f"{args.model}-train"),
            context="training",
        )
        mlflow.log_input(
            mlflow.data.from_pandas(
                holdout_pdf, source=args.holdout_table, name=f"{args.model}-holdout"
            ),
            context="holdout",
        )
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            # a named Series: a column spec ("string" for Yes/No), which spark_udf can return
            signature=infer_signature(
                example, pd.Series(pipeline.predict(example), name="prediction")
            ),
            input_example=example,
            registered_model_name=args.model,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=model_requirements(),
        )
        run_id = active.info.run_id
    return {
        "run_id": run_id,
        "model": args.model,
        "version": str(info.registered_model_version),
        "metrics": metrics,
        "train_rows": len(train_pdf),
        "holdout_rows": len(holdout_pdf),
        "features_table": args.features_table,
        "holdout_table": args.holdout_table,
        "seconds": round(time.monotonic() - started, 1),
    }


def model_requirements() -> list[str]:
    """The model's pip requirements, named rather than inferred: MLflow's inference loads the
    model in a subprocess (seconds, and ~200 MB beside the job) and, in a process that has
    imported more (the warm job host), lists everything that process imported."""
    from importlib.metadata import version

    import mlflow.sklearn

    pinned = [f"{name}=={version(name)}" for name in ("numpy", "pandas", "scipy")]
    return [*mlflow.sklearn.get_default_pip_requirements(include_skops=True), *pinned]


def main(argv: list[str] | None = None) -> None:
    run(train, arguments(argv))


if __name__ == "__main__":
    main()
