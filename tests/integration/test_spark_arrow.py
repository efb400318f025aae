"""The local session's Arrow exchange with the Python workers runs with Arrow Java's checks
off (shared/adapters/spark_tables.ARROW_UNCHECKED): the JVM has the properties, and values
that the checks guard (nulls among strings, doubles and maps, empty strings and maps, long
strings that grow the buffers) still come back from a mapInArrow exactly as they went in."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, MapType, StringType, StructField, StructType


def test_the_session_turns_arrow_javas_checks_off(spark) -> None:
    system = spark.sparkContext._jvm.java.lang.System
    assert system.getProperty("arrow.enable_unsafe_memory_access") == "true"
    assert system.getProperty("arrow.enable_null_check_for_get") == "false"


def test_values_with_nulls_round_trip_through_maps_in_arrow_unchanged(spark) -> None:
    schema = StructType(
        [
            StructField("text", StringType()),
            StructField("number", DoubleType()),
            StructField("scores", MapType(StringType(), DoubleType())),
        ]
    )
    rows = [
        (None if n % 3 == 0 else ("x" * (n % 700)), None if n % 5 == 0 else n / 7, scores)
        for n in range(3000)
        for scores in [None if n % 4 == 0 else ({} if n % 4 == 1 else {str(n): n / 3})]
    ]
    frame = spark.createDataFrame(rows, schema).repartition(2)
    back = frame.mapInArrow(lambda batches: batches, schema)
    assert sorted(map(tuple, back.collect()), key=repr) == sorted(rows, key=repr)
