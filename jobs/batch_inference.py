"""batch_inference: score a table with the champion (and its shadows or split arms) and append
the predictions to Delta.

    python -m mlops_hooks.jobs.batch_inference --model churn --input s3://landing/churn/latest.csv \
        --output .mlops-hooks/tables/churn/predictions [--deployment shadow --challengers a,3]

Resolves the champion alias (and each listed challenger: an alias or a version) to its
version once, so every row carries the version that scored it; builds the same features as
training (jobs/features.py); scores every version in one pass over the input (one
``mapInArrow``: each Python worker loads each model once; the input columns pass through as
the Arrow arrays they came in, shared/domain/live.scored_columns adds the scoring columns);
appends ``prediction`` and ``model_version`` (what was served: the champion's, or in a split
the row's arm's), ``arm``, ``predictions`` and ``scores`` (every version's, by version: the
shadows are kept beside, never served), ``scored_at`` and the partition column ``score_date``
(the schedule's logical date, so a re-run or a late run lands in its own day's window).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
    p.add_argument("--deployment", default="single", choices=["single", "shadow", "split"])
    p.add_argument(
        "--challengers", default="", help="comma separated aliases or versions (shadow, split)"
    )
    p.add_argument("--split", default="", help="arm=percent, comma separated: champion=90,...")
    p.add_argument("--assign-by", default="", help="split: the id column a row's arm comes from")
    p.add_argument("--positive-label", default="Yes", help="the class whose score is kept")
    return p


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def batch_inference(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow
    from mlflow import MlflowClient

    from mlops_hooks.shared.adapters.spark_tables import spark_session
    from mlops_hooks.shared.domain.live import plan_scoring

    started = time.monotonic()
    if args.tracking_uri:
        mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(args.model, args.alias).version
    except Exception as exc:
        raise JobError(f"{args.model} has no {args.alias!r} alias: {exc}") from None
    plan, notes = plan_scoring(
        args.deployment,
        model=args.model,
        champion=str(version),
        resolved={name: _resolve(client, args.model, name) for name in _listed(args.challengers)},
        split=_shares(args.split),
        assign_by=args.assign_by or None,
    )
    # each version by its own files' location (a models:/ URI would parse odd names as URLs)
    locations = {v: client.get_model_version_download_uri(args.model, v) for v in plan.versions}
    inputs = {v: _input_names(uri) for v, uri in locations.items()}

    spark = spark_session(f"batch-inference-{args.model}")
    with _shipped_models(spark, args.model, locations) as shipped:
        rows, served, table_version = _score_table(spark, args, plan, shipped, inputs)
    return {
        "model": args.model,
        "version": str(version),
        "deployment": plan.mode,
        "versions": list(plan.versions),
        "served": served,
        "notes": notes,
        "rows": rows,
        "output": args.output,
        "output_version": table_version,
        "seconds": round(time.monotonic() - started, 1),
    }


def _score_table(
    spark: Any, args: argparse.Namespace, plan: Any, shipped: dict[str, Any], inputs: dict
) -> tuple[int, dict[str, int], int]:
    """Read, featurize, score every version in one pass and append to the Delta table:
    (rows, rows served per version, the table's new version)."""
    from pyspark.sql import functions as F

    from mlops_hooks.shared.adapters.spark_tables import SparkTables

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
    columns = set(features.columns)  # one schema read (each ``.columns`` asks the JVM)
    for v, names in inputs.items():
        missing = [n for n in names if n not in columns]
        if missing:
            raise JobError(f"{args.input} lacks v{v}'s input columns: {', '.join(missing)}")
    if plan.assign_by and plan.assign_by not in columns:
        raise JobError(f"{args.input} has no {plan.assign_by!r} column to split by")
    schema = scoring_schema(features.schema)
    score = functools.partial(
        _score_batches, plan=plan, locations=shipped, inputs=inputs, positive=args.positive_label
    )
    scored = (
        features.mapInArrow(score, schema)
        .withColumn("scored_at", F.current_timestamp())
        .withColumn(
            "score_date",
            F.to_date(F.lit(args.score_date)) if args.score_date else F.to_date("scored_at"),
        )
    ).cache()
    # the rows come from the counts per version: one Spark job, not a count() and another
    served = {
        r["model_version"]: r["count"] for r in scored.groupBy("model_version").count().collect()
    }
    rows = sum(served.values())
    table_version = tables.write_delta(
        scored, args.output, mode="append", partition_by=["score_date"]
    )
    scored.unpersist()
    return rows, served, table_version


def scoring_schema(inputs: Any) -> Any:
    """What the scoring pass returns: the input, the served columns and the ``predictions``
    and ``scores`` maps (version -> value), of the same types whatever the versions."""
    from pyspark.sql.types import (
        DoubleType,
        MapType,
        StringType,
        StructField,
        StructType,
    )

    return StructType(
        [
            *inputs.fields,
            StructField("prediction", StringType()),
            StructField("model_version", StringType()),
            StructField("arm", StringType()),
            StructField("predictions", MapType(StringType(), StringType())),
            StructField("scores", MapType(StringType(), DoubleType())),
        ]
    )


def arrow_map(versions: tuple[str, ...], columns: list[Any], kind: Any, *, drop_nan: bool) -> Any:
    """One Arrow map per row (version -> that version's value), built from the per-version
    columns with array operations; with ``drop_nan`` a NaN (a version that gives no score) is
    left out of its row's map. Built here rather than with Spark's create_map/map_filter, whose
    lambda runs interpreted per row in the JVM (1.5 s of a 1M-row pass)."""
    import numpy as np
    import pyarrow as pa

    rows, width = len(columns[0]), len(versions)
    values = pa.concat_arrays([pa.array(c, type=kind) for c in columns])  # version-major
    order = (np.arange(width)[None, :] * rows + np.arange(rows)[:, None]).ravel()  # row-major
    present = np.ones(rows * width, dtype=bool)
    if drop_nan:
        present = ~np.isnan(np.stack(columns, axis=1).astype(float)).ravel()
    counts = present.reshape(rows, width).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    keys = pa.array(list(versions), type=pa.string()).take(np.tile(np.arange(width), rows)[present])
    return pa.MapArray.from_arrays(offsets, keys, values.take(order[present]))


def arrow_strings(values: Any) -> Any:
    """A numpy string column in Arrow. One value repeated (the version and the arm outside a
    split) is repeated by Arrow: converting a fixed-width numpy array row by row costs 80 ms
    of every 500,000 rows."""
    import pyarrow as pa

    if len(values) and values.dtype.kind == "U" and (values == values[0]).all():
        return pa.repeat(pa.scalar(str(values[0]), type=pa.string()), len(values))
    return pa.array(values, type=pa.string())


def _listed(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _shares(text: str) -> dict[str, int]:
    shares = {}
    for item in _listed(text):
        arm, _, share = item.partition("=")
        if not share.strip().isdigit():
            raise JobError(
                f"--split {text!r}: give arm=percent pairs, e.g. champion=90,challenger=10"
            )
        shares[arm.strip()] = int(share)
    return shares


def _resolve(client: Any, model: str, name: str) -> str | None:
    """A challenger named by version number, or by alias (None: no such version, or the alias
    points nowhere: the plan leaves it out and says so)."""
    try:
        if name.isdigit():
            return str(client.get_model_version(model, name).version)
        return str(client.get_model_version_by_alias(model, name).version)
    except Exception:
        return None


def _input_names(uri: str) -> list[str]:
    """The columns the version at ``uri`` scores, from its MLmodel file alone (read before
    Spark starts). Fetched into a folder of ours: ``mlflow.models.get_model_info`` leaves a
    temporary copy behind on every call."""
    import mlflow
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="batch-inference-") as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{uri.rstrip('/')}/MLmodel", dst_path=folder
        )
        signature = Model.load(local).signature
    names = [c.name for c in signature.inputs] if signature and signature.inputs else None
    if not names:
        raise JobError(f"{uri} has no input signature: cannot tell which columns to score")
    return names


SPARK_FILE = "spark-file:"  # a model shipped as files with addFile: "spark-file:<folder name>"


@contextlib.contextmanager
def _shipped_models(spark: Any, model: str, locations: dict[str, str]) -> Iterator[dict]:
    """Each version's files, downloaded once on the driver (which knows the tracking server),
    then handed to the workers by ``ship_model``: they never call the registry. The host's JVM
    and the driver outlive the job, so whatever happens the models are let go afterwards: the
    broadcasts destroyed, the downloaded files removed (but those a model was shipped as with
    ``addFile``: Spark serves them to executors for as long as its context lives)."""
    import mlflow

    folder = tempfile.mkdtemp(prefix=f"batch-inference-{model}-")
    shipped: dict[str, Any] = {}
    try:
        for version, uri in locations.items():
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=f"{folder}/v{version}"
            )
            target = f"{folder}/mlops-hooks-{model}-v{version}-{uuid.uuid4().hex[:8]}"
            os.rename(local, target)
            shipped[version] = ship_model(spark, target)
        yield shipped
    finally:
        served_as_files = set()
        for location in shipped.values():
            if isinstance(location, BroadcastModel):
                location.model.destroy()
            else:
                served_as_files.add(location.removeprefix(SPARK_FILE))
        if served_as_files:
            for entry in os.listdir(folder):
                if entry not in served_as_files:
                    shutil.rmtree(os.path.join(folder, entry), ignore_errors=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def ship_model(spark: Any, folder: str) -> Any:
    """A model folder made ready for the Python workers. A classifier with predict_proba (what
    scoring asks of a scikit-learn model under its pyfunc) is loaded here once and broadcast:
    a worker unpickles the estimator without importing MLflow, ~50 MB less in each worker.
    Any other model's files go to every executor with SparkContext.addFile, as spark_udf
    does, and each worker loads them as a pyfunc (``spark-file:<name>``)."""
    import mlflow.pyfunc

    from mlops_hooks.shared.adapters.pyfunc_model import raw_model

    name = os.path.basename(folder)
    raw = raw_model(mlflow.pyfunc.load_model(folder))
    if hasattr(raw, "predict_proba"):
        return BroadcastModel(f"broadcast:{name}", spark.sparkContext.broadcast(raw))
    spark.sparkContext.addFile(folder, recursive=True)
    return f"{SPARK_FILE}{name}"


@dataclass(frozen=True)
class BroadcastModel:
    """A model loaded on the driver and broadcast; ``key`` names it in a worker's cache (a
    broadcast unpickled in a worker does not carry its id)."""

    key: str
    model: Any  # pyspark's Broadcast of the estimator


_LOADED: dict[str, Any] = {}  # per Python worker: each model is loaded once


def _score_batches(
    batches: Iterator[Any], *, plan: Any, locations: dict, inputs: dict, positive: str
) -> Iterator[Any]:
    """Arrow batches in, the same batches out with the scoring columns added (``mapInArrow``):
    the input columns go back as the Arrow arrays they came in, never through pandas and
    back; only the model's input columns are converted for it; the maps are built in Arrow.
    ``locations``: each version's ``ship_model`` (or a model folder's path)."""
    import pyarrow as pa

    from mlops_hooks.shared.domain.live import flat_columns, scored_columns

    scorers = _scorers(plan, locations, inputs, positive)
    needed = sorted({name for version in plan.versions for name in inputs[version]})
    if plan.assign_by and plan.assign_by not in needed:
        needed.append(plan.assign_by)
    versions = tuple(plan.versions)
    served = ["prediction", "model_version", "arm"]
    flat = [flat_columns(v) for v in versions]
    for batch in batches:
        frame = batch.select(needed).to_pandas()
        added = scored_columns(frame, scorers, plan)
        columns = [arrow_strings(added[name]) for name in served]
        predictions = arrow_map(versions, [added[p] for p, _ in flat], pa.string(), drop_nan=False)
        scores = arrow_map(versions, [added[s] for _, s in flat], pa.float64(), drop_nan=True)
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, *columns, predictions, scores],
            names=[*batch.schema.names, *served, "predictions", "scores"],
        )


def _scorers(plan: Any, locations: dict, inputs: dict, positive: str) -> dict[str, Any]:
    wanted = {_key(locations[v]) for v in plan.versions}
    for done in set(_LOADED) - wanted:  # an earlier job's models: the worker outlives jobs
        del _LOADED[done]

    def scorer(version: str) -> Any:
        model, names = _loaded(locations[version]), inputs[version]

        def run(frame: Any) -> tuple[Any, Any]:
            return _predict(model, frame[names], positive)

        return run

    return {v: scorer(v) for v in plan.versions}


def _loaded(location: Any) -> Any:
    """The model a ``ship_model`` result (or a folder's path) stands for, loaded once in this
    worker: a broadcast estimator as it is, files as a pyfunc (MLflow imported only then)."""
    key = _key(location)
    if key not in _LOADED:
        if isinstance(location, str):
            import mlflow.pyfunc

            _LOADED[key] = mlflow.pyfunc.load_model(_local(location))
        else:
            _LOADED[key] = location.model.value
    return _LOADED[key]


def _key(location: Any) -> str:
    return location if isinstance(location, str) else location.key


def _local(uri: str) -> str:
    """A shipped model's folder on this worker (other URIs as they are: tests, the bench)."""
    if uri.startswith(SPARK_FILE):
        from pyspark import SparkFiles

        return SparkFiles.get(uri.removeprefix(SPARK_FILE))
    return uri


def _predict(model: Any, data: Any, positive: str) -> tuple[Any, Any]:
    """Predictions and P(positive). A scikit-learn classifier (as it is, or under its pyfunc)
    is asked once (predict_proba; its prediction is the class of highest probability, which
    is what its predict returns), not twice: the pipeline's preprocessing is most of the cost."""

    from mlops_hooks.shared.adapters.pyfunc_model import class_probabilities
    from mlops_hooks.shared.domain.live import as_text

    found = class_probabilities(model, data)
    if found is None or not found[1]:
        return model.predict(data), None
    proba, classes = found
    # the classes as text once, so the rows' picks need no conversion (live.as_text)
    predicted = as_text(classes)[proba.argmax(axis=1)]
    names = [str(c) for c in classes]
    scores = proba[:, names.index(positive)] if positive in names else None
    return predicted, scores


def main(argv: list[str] | None = None) -> None:
    run(batch_inference, arguments(argv))


if __name__ == "__main__":
    main()
