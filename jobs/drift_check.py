"""drift_check: the champion's training reference against the last scoring window, on Spark.

    python -m mlops_hooks.jobs.drift_check --model churn \
        --current .mlops-hooks/tables/churn/predictions \
        --monitoring-table .mlops-hooks/tables/churn/monitoring [--alarm-topic-arn ARN]

Per-feature PSI / KS / Wasserstein / Jensen-Shannon (jobs/drift_spark.py) are appended to the
monitoring Delta table. Over the threshold, the job publishes a CloudWatch-alarm-shaped message
to the alarm SNS topic: the same signed AWS path a real alarm takes, which becomes a
``drift_detected`` event (locally: SNS -> SQS -> `serve`'s ingest).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from mlops_hooks.jobs.cli import JobError, parser, run


def build_parser() -> argparse.ArgumentParser:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--alias", default="champion")
    p.add_argument("--current", required=True, help="the batch-inference output (Delta)")
    p.add_argument("--window-days", type=int, default=1, help="scoring days compared")
    p.add_argument("--monitoring-table", required=True, help="Delta table the results go to")
    p.add_argument("--reference", default="", help="default: the champion run's feature table")
    p.add_argument("--reference-version", default="", help="the reference's Delta version")
    p.add_argument("--features", default="", help="comma separated; default: all shared columns")
    p.add_argument("--label", default="Churn")
    p.add_argument("--id-columns", default="", help="comma separated row ids; not compared")
    p.add_argument("--psi-warn", type=float, default=0.1)
    p.add_argument("--psi-drift", type=float, default=0.25)
    p.add_argument("--alarm-topic-arn", default="", help="SNS topic of the drift alarms")
    return p


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def drift_check(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    from mlflow import MlflowClient
    from pyspark.sql import functions as F

    from mlops_hooks.jobs.drift_spark import spark_compare
    from mlops_hooks.shared.adapters.spark_tables import SparkTables, spark_session
    from mlops_hooks.shared.domain.drift_check import (
        DriftCheckError,
        alarm_message,
        features_to_compare,
        monitoring_rows,
        reference_of,
        window,
    )

    started = time.monotonic()
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(args.model, args.alias)
    except Exception as exc:
        raise JobError(f"{args.model} has no {args.alias!r} alias: {exc}") from None
    try:
        params = {} if args.reference else client.get_run(version.run_id).data.params
        reference_uri, reference_version = reference_of(
            params,
            given=args.reference or None,
            given_version=int(args.reference_version) if args.reference_version else None,
        )
        spark = spark_session(f"drift-check-{args.model}")
        tables = SparkTables(spark)
        reference = tables.read(reference_uri, version=reference_version)
        scored = tables.read(args.current)
        dates = [r[0] for r in scored.select("score_date").distinct().collect()]
        first, last = window(dates, args.window_days)
        current = scored.filter(F.col("score_date").between(first, last))
        ids = tuple(c for c in args.id_columns.split(",") if c)
        wanted = [f for f in args.features.split(",") if f]
        features = features_to_compare(
            reference.columns, current.columns, wanted=wanted, label=args.label, ids=ids
        )
    except DriftCheckError as exc:
        raise JobError(str(exc)) from None
    report = spark_compare(
        reference, current, features, psi_warn=args.psi_warn, psi_drift=args.psi_drift
    )
    checked_at = datetime.now(UTC)
    where = {"model": args.model, "version": str(version.version), "first": first, "last": last}
    rows = monitoring_rows(report, checked_at=checked_at, **where)
    tables.write_delta(
        spark.createDataFrame(rows),
        args.monitoring_table,
        mode="append",
        partition_by=["checked_date"],
    )
    alarmed = False
    if report.drifted and args.alarm_topic_arn:
        from mlops_hooks.shared.adapters.sns_alarm import publish_alarm

        publish_alarm(args.alarm_topic_arn, alarm_message(report, checked_at=checked_at, **where))
        alarmed = True
    return {
        "model": args.model,
        "version": str(version.version),
        "window": [first.isoformat(), last.isoformat()],
        "summary": report.summary(),
        "drifted": report.drifted,
        "warned": report.warned,
        "alarm_published": alarmed,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    run(drift_check, arguments(argv))


if __name__ == "__main__":
    main()
