"""Cleaning and feature building in Spark, shared by every job that feeds the model.

Train, batch inference and the drift check call the same two functions, so the model always
sees features built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

YES = "Yes"


@dataclass
class Cleaning:
    """What cleaning changed, for the run's params: column -> what and how many rows."""

    notes: dict[str, str] = field(default_factory=dict)


def clean(frame: DataFrame, *, keep_strings: tuple[str, ...] = ()) -> tuple[DataFrame, Cleaning]:
    """Trim strings; a string column whose values are all numbers (or blank) becomes double,
    its blanks 0 (the Telco file's new customers have a blank TotalCharges). Integer columns
    become double too: a model signature with integers rejects a missing value at scoring."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegralType, StringType

    frame = frame.select(
        *(
            F.col(f.name).cast("double").alias(f.name)
            if isinstance(f.dataType, IntegralType) and f.name not in keep_strings
            else F.col(f.name)
            for f in frame.schema.fields
        )
    )

    strings = [
        f.name
        for f in frame.schema.fields
        if isinstance(f.dataType, StringType) and f.name not in keep_strings
    ]
    cleaning = Cleaning()
    if not strings:
        return frame, cleaning
    trimmed = frame.select(
        *(F.trim(F.col(c)).alias(c) if c in strings else F.col(c) for c in frame.columns)
    )
    stats = trimmed.agg(
        *(F.count(F.when(F.col(c) != "", 1)).alias(f"{c}__filled") for c in strings),
        *(F.count(F.expr(f"try_cast(`{c}` AS DOUBLE)")).alias(f"{c}__numbers") for c in strings),
        *(F.count(F.when(F.col(c) == "", 1)).alias(f"{c}__blank") for c in strings),
    ).first()
    numeric = [
        c
        for c in strings
        if stats[f"{c}__filled"] and stats[f"{c}__numbers"] == stats[f"{c}__filled"]
    ]
    for column in numeric:
        blanks = stats[f"{column}__blank"]
        cleaning.notes[column] = f"text to double; {blanks} blank values set to 0"
    cleaned = trimmed.select(
        *(
            F.coalesce(F.expr(f"try_cast(`{c}` AS DOUBLE)"), F.lit(0.0)).alias(c)
            if c in numeric
            else F.col(c)
            for c in trimmed.columns
        )
    )
    return cleaned, cleaning


def featurize(frame: DataFrame, *, exclude: tuple[str, ...] = ()) -> DataFrame:
    """Derived features: average monthly spend, and how many yes/no services are "Yes"."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    columns = set(frame.columns)
    out = frame
    if {"TotalCharges", "tenure"} <= columns:
        out = out.withColumn(
            "avg_monthly_spend",
            F.col("TotalCharges").cast("double")
            / F.greatest(F.col("tenure").cast("double"), F.lit(1.0)),
        )
    flags = [
        f.name
        for f in frame.schema.fields
        if isinstance(f.dataType, StringType) and f.name not in exclude
    ]
    if flags:
        out = out.withColumn(
            "yes_count",
            sum((F.col(c) == YES).cast("int") for c in flags),  # type: ignore[arg-type]
        )
    return out
