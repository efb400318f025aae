"""SparkTables where Spark itself has Delta (Databricks): the version a write returns is the
table's real one, read from its history. Delta's Spark jars cannot be downloaded here, so a
stand-in session records the SQL and answers as Databricks does (one history row)."""

from __future__ import annotations

from typing import Any

from mlops_hooks.shared.adapters.spark_tables import SparkTables


class SessionWithDelta:
    """What SparkTables asks of a session: its Delta extension and ``sql().collect()``."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.queries: list[str] = []
        self.conf = self

    def get(self, key: str, default: str = "") -> str:
        return "io.delta.sql.DeltaSparkSessionExtension" if key == "spark.sql.extensions" else ""

    def sql(self, query: str) -> Any:
        self.queries.append(query)
        return self

    def collect(self) -> list[dict[str, int]]:
        return [{"version": self.version}]


def test_the_delta_version_comes_from_the_tables_history_never_a_placeholder() -> None:
    spark = SessionWithDelta(version=7)
    tables = SparkTables(spark)  # type: ignore[arg-type]
    assert tables.native
    assert tables.delta_version("/Volumes/prod/mlops/tables/churn/features") == 7
    odd = tables.delta_version("/Volumes/prod/a`b/features")  # a backquote in the path
    assert odd == 7
    assert spark.queries == [
        "DESCRIBE HISTORY delta.`/Volumes/prod/mlops/tables/churn/features` LIMIT 1",
        "DESCRIBE HISTORY delta.`/Volumes/prod/a``b/features` LIMIT 1",
    ]


def test_the_local_driver_gets_the_throughput_collector_unless_the_user_chooses_one(
    monkeypatch,
) -> None:
    from mlops_hooks.shared.adapters.spark_classes import ENV
    from mlops_hooks.shared.adapters.spark_tables import (
        ARROW_UNCHECKED,
        THROUGHPUT_GC,
        driver_java_options,
    )

    monkeypatch.setenv(ENV, "off")  # no class archive in the options
    assert driver_java_options("") == f"{ARROW_UNCHECKED} {THROUGHPUT_GC}"
    assert driver_java_options("-Xss1m ") == f"{ARROW_UNCHECKED} {THROUGHPUT_GC} -Xss1m"
    for chosen in ("-XX:+UseSerialGC -Xmn24m", "-Xms32m -XX:+UseG1GC", "-XX:+UseZGC"):
        options = driver_java_options(chosen)
        assert THROUGHPUT_GC not in options  # two collectors: the JVM would not start
        assert options == f"{ARROW_UNCHECKED} {chosen}"
    # the user's options come last, so their -D overrides ours
    debug = "-Darrow.enable_unsafe_memory_access=false"
    assert driver_java_options(debug).endswith(debug)
