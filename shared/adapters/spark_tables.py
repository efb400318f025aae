"""Tables for Spark jobs: Delta through Spark where its Delta extension is loaded (Databricks,
clusters with delta-spark), otherwise delta-rs (``deltalake``) with Arrow in between.

Delta's Spark jars cannot be downloaded on machines without Maven access, so locally Spark
does the compute and delta-rs the Delta I/O (DESIGN). Reads of CSV / Parquet / Delta on a local
path or ``s3://`` go through the same reader as the holdout (boto3, delta-rs) when Spark has no
native access to them, so ``AWS_ENDPOINT_URL`` (moto, LocalStack) works for both.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from mlops_hooks.shared.adapters.spark_classes import java_options
from mlops_hooks.shared.adapters.table_reader import (
    delta_storage_options,
    detect_format,
    read_table,
)
from mlops_hooks.shared.domain.policy import DataFormat

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def quoted(name: str) -> str:
    """A name (a column, a table's path) as a Spark SQL identifier, backticks included."""
    return "`" + name.replace("`", "``") + "`"


JAVA_OPTIONS_ENV = "MLOPS_HOOKS_SPARK_JAVA_OPTIONS"
# Arrow's Java library checks every buffer access's bounds and every get's null bit, on top
# of Spark's own checks; Spark's Arrow exchange with the Python workers (mapInArrow, pandas
# UDFs) reads and writes every value through them. Turned off, as Iceberg's vectorized reader
# and the BigQuery connector do: 0.3-0.45 of the JVM's 3.1 core-seconds a pass of the batch
# job over 1,000,000 rows (bench/batch_inference). A misused buffer then fails as the JVM
# would, not as an exception: pass -Darrow.enable_unsafe_memory_access=false in
# MLOPS_HOOKS_SPARK_JAVA_OPTIONS to debug one.
ARROW_UNCHECKED = "-Darrow.enable_unsafe_memory_access=true -Darrow.enable_null_check_for_get=false"


# The throughput collector for a local JVM whose work is batch passes: G1's write barriers
# and concurrent threads cost 0.3 of the JVM's 2.2-2.8 core-seconds a 1M-row pass of the batch
# job, 0.15-0.3 s of its wall time (four A/B pairs, bench/batch_inference's pass). Its longer
# pauses do not matter to a batch pass.
THROUGHPUT_GC = "-XX:+UseParallelGC"
_CHOOSES_COLLECTOR = re.compile(r"-XX:\+Use\w+GC\b")


def driver_java_options(user: str) -> str:
    """The local driver's JVM options: the Arrow checks off, the throughput collector unless
    ``user`` chooses one (a JVM given two refuses to start), the classes Spark loads mapped
    from an archive (spark_classes), then ``user``'s options, e.g. "-XX:+UseSerialGC" for a
    small local JVM (the demo's); a later -D wins, so they can turn the checks back on."""
    collector = "" if _CHOOSES_COLLECTOR.search(user) else THROUGHPUT_GC
    return " ".join(o for o in (ARROW_UNCHECKED, collector, java_options(), user.strip()) if o)


def spark_session(app: str = "mlops-hooks") -> SparkSession:
    """The active session (Databricks), or a local one sized for a laptop."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python workers must be this interpreter (the venv with pandas, mlflow), not the PATH's
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app)
        .master(os.environ.get("MLOPS_HOOKS_SPARK_MASTER", "local[2]"))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # batches of 50,000 rows to the Python workers (Spark's default 10,000): a model's
        # per-call overhead (a scikit-learn pipeline's column transforms) is paid 5x less
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "50000")
        # no byte limit on those batches (Int.MaxValue turns the check off): with Spark 4's
        # default of 64 MiB the JVM measures the batch's Arrow vectors after every row it adds,
        # about 1 core-second per 1,000,000 rows of the batch job's pass (bench/batch_inference)
        .config("spark.sql.execution.arrow.maxBytesPerBatch", str(2**31 - 1))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", os.environ.get("MLOPS_HOOKS_SPARK_DRIVER_MEMORY", "2g"))
        .config(
            "spark.driver.extraJavaOptions",
            driver_java_options(os.environ.get(JAVA_OPTIONS_ENV, "")),
        )
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def delta_in_spark(spark: SparkSession) -> bool:
    """Can Spark itself read and write Delta here?"""
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return True
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    return "DeltaSparkSessionExtension" in extensions


class SparkTables:
    """Read any supported table into Spark; write Delta (overwrite or append, partitioned)."""

    def __init__(self, spark: SparkSession, *, endpoint_url: str | None = None) -> None:
        self.spark = spark
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        self.native = delta_in_spark(spark)

    def read(self, uri: str, fmt: str = "auto", *, version: int | None = None) -> DataFrame:
        """The table as a Spark frame; ``version``: a Delta table's version (time travel)."""
        kind = detect_format(uri, DataFormat(fmt), endpoint_url=self.endpoint_url)
        if self.native:
            reader = self.spark.read.format(kind.value)
            if kind is DataFormat.CSV:
                reader = reader.option("header", "true").option("inferSchema", "true")
            if version is not None:
                reader = reader.option("versionAsOf", version)
            return reader.load(uri)
        frame = read_table(uri, kind, endpoint_url=self.endpoint_url, version=version)
        return self.spark.createDataFrame(frame)

    def write_delta(
        self,
        frame: DataFrame,
        uri: str,
        *,
        mode: str = "overwrite",
        partition_by: list[str] | None = None,
    ) -> int:
        """Write ``frame`` as a Delta table; returns the table's new version."""
        if self.native:
            writer = frame.write.format("delta").mode(mode)
            if mode == "overwrite":
                writer = writer.option("overwriteSchema", "true")
            else:  # an append may bring new columns (a shadow deployment's maps)
                writer = writer.option("mergeSchema", "true")
            if partition_by:
                writer = writer.partitionBy(*partition_by)
            writer.save(uri)
            return self.delta_version(uri)  # Spark's writer does not say; the history does
        from deltalake import DeltaTable, write_deltalake

        options = delta_storage_options(uri, self.endpoint_url)
        write_deltalake(
            uri,
            frame.toArrow(),
            mode=mode,  # type: ignore[arg-type]
            partition_by=partition_by,
            schema_mode="overwrite" if mode == "overwrite" else "merge",
            storage_options=options,
        )
        return DeltaTable(uri, storage_options=options).version()

    def delta_version(self, uri: str) -> int:
        """The Delta table's current version from its history (Spark's Delta, as on Databricks):
        the drift reference is pinned to it, so it must be the real one, never a placeholder."""
        [last] = self.spark.sql(f"DESCRIBE HISTORY delta.{quoted(uri)} LIMIT 1").collect()
        return int(last["version"])
