"""The Spark drift implementation against numpy's, on local Spark."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_hooks.jobs.drift_spark import spark_compare, spark_edges
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

    reference_frame, current_frame = map(spark.createDataFrame, (reference, current))
    got = spark_compare(reference_frame, current_frame, features, edges=edges)
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
    own = spark_compare(reference_frame, current_frame, features)
    assert sorted(own.drifted) == ["income", "plan"]


def test_the_edges_are_approx_quantiles_own_leaving_out_nan_and_null(spark) -> None:
    """spark_edges asks percentile_approx in one aggregation: the same edges as
    DataFrame.approxQuantile with the same relative error, NaN and null left out as it does."""
    from mlops_hooks.shared.domain.drift import FINE_BINS, PSI_BINS

    reference = frame(5_000, 3)
    reference.loc[:199, "charges"] = np.nan
    reference["empty"] = np.nan
    reference["years"] = reference["age"].round().astype(int)
    table = spark.createDataFrame(reference)
    numeric = ["income", "charges", "years", "empty"]
    edges = spark_edges(table, numeric)
    coarse = [i / PSI_BINS for i in range(1, PSI_BINS)]
    fine = [i / FINE_BINS for i in range(1, FINE_BINS)]
    expected = table.approxQuantile(numeric, coarse + fine, 1e-4)
    assert set(edges) == {"income", "charges", "years"} and expected[3] == []  # all NaN: none
    for name, quantiles in zip(numeric[:3], expected[:3], strict=True):
        assert edges[name][0].tolist() == np.unique(quantiles[: len(coarse)]).tolist(), name
        assert edges[name][1].tolist() == np.unique(quantiles[len(coarse) :]).tolist(), name
    assert edges["charges"][1].min() >= reference["charges"].min()  # NaN counted in no edge
