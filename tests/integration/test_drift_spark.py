"""The Spark drift implementation against numpy's, on local Spark."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_hooks.jobs.drift_spark import spark_compare
from mlops_hooks.shared.domain.drift import compare_frames, numeric_edges
from tests.unit.test_drift import frame


def test_spark_and_numpy_agree_on_the_same_data_and_bins(spark) -> None:
    reference = frame(20_000, 1)
    current = frame(20_000, 2, shift_income=6.0, plan_mix=(0.2, 0.3, 0.5))
    current.loc[:99, "charges"] = np.nan  # missing values have their own bin on both sides
    features = list(reference.columns)
    expected = {f.feature: f for f in compare_frames(reference, current).features}
    numeric = [f for f in features if f not in ("plan", "region")]
    edges = {f: numeric_edges(reference[f].to_numpy(dtype=float)) for f in numeric}

    got = spark_compare(
        spark.createDataFrame(reference),
        spark.createDataFrame(current),
        features,
        edges=edges,
    )
    by_name = {f.feature: f for f in got.features}
    for name in features:
        assert by_name[name].psi == pytest.approx(expected[name].psi, abs=1e-6), name
        assert by_name[name].status == expected[name].status
    for name in numeric:
        assert by_name[name].ks == pytest.approx(expected[name].ks, abs=1e-9)
        assert by_name[name].wasserstein == pytest.approx(expected[name].wasserstein, rel=1e-9)
    assert by_name["plan"].js_distance == pytest.approx(expected["plan"].js_distance, abs=1e-9)
    assert sorted(got.drifted) == ["income", "plan"]

    # with Spark's own approximate quantiles the verdicts are the same
    own = spark_compare(spark.createDataFrame(reference), spark.createDataFrame(current), features)
    assert sorted(own.drifted) == ["income", "plan"]
