"""The jobs' cleaning and features (jobs/features.py, SQL projections) on local Spark: the
values, types and column order every job and model relies on, with names SQL would misread."""

from __future__ import annotations

from mlops_hooks.jobs.features import clean, featurize
from mlops_hooks.shared.adapters.spark_tables import quoted

ODD = "odd `name{x}"  # a backtick and braces: quoted, never read as SQL or a format field


def test_cleaning_and_features_keep_values_types_and_order(spark) -> None:
    frame = spark.createDataFrame(
        [
            ("a", 0, " ", "Yes", "1", "No"),
            ("b", 2, "40.5", " No", "2", "Yes"),
            ("c", 10, "100 ", None, "x", "No"),
        ],
        "customerID string, tenure int, TotalCharges string, Partner string,"
        f" {quoted(ODD)} string, Churn string",
    )
    keep = ("Churn", "customerID")
    cleaned, cleaning = clean(frame, keep_strings=keep)
    features = featurize(cleaned, exclude=keep)

    assert cleaning.notes == {"TotalCharges": "text to double; 1 blank values set to 0"}
    assert features.dtypes == [
        ("customerID", "string"),
        ("tenure", "double"),
        ("TotalCharges", "double"),
        ("Partner", "string"),
        (ODD, "string"),  # "x" is not a number: the column stays text, trimmed
        ("Churn", "string"),
        ("avg_monthly_spend", "double"),
        ("yes_count", "int"),
    ]
    rows = [tuple(r) for r in features.orderBy("customerID").collect()]
    assert rows == [
        ("a", 0.0, 0.0, "Yes", "1", "No", 0.0, 1),
        ("b", 2.0, 40.5, "No", "2", "Yes", 20.25, 0),
        ("c", 10.0, 100.0, None, "x", "No", 10.0, None),  # a missing flag: no count
    ]


def test_a_derived_column_already_there_is_replaced_where_it_stands(spark) -> None:
    frame = spark.createDataFrame(
        [(3, "Yes", 7), (4, "No", 8)], "tenure long, Partner string, yes_count long"
    )
    cleaned, cleaning = clean(frame)
    features = featurize(cleaned)

    assert cleaning.notes == {}
    assert features.dtypes == [("tenure", "double"), ("Partner", "string"), ("yes_count", "int")]
    assert [tuple(r) for r in features.orderBy("tenure").collect()] == [
        (3.0, "Yes", 1),
        (4.0, "No", 0),
    ]


def test_a_frame_with_nothing_to_clean_or_derive_comes_back_as_it_is(spark) -> None:
    frame = spark.createDataFrame([(1.5,), (2.5,)], "amount double")
    cleaned, cleaning = clean(frame)

    assert featurize(cleaned).dtypes == [("amount", "double")]
    assert [r[0] for r in featurize(cleaned).collect()] == [1.5, 2.5]
    assert cleaning.notes == {}
