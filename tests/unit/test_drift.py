"""Drift statistics on synthetic data with known shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops_hooks.shared.domain.drift import (
    EPSILON,
    bin_counts,
    compare_frames,
    numeric_edges,
    psi_from_counts,
)


def frame(rows: int, seed: int, *, shift_income: float = 0.0, plan_mix=(0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50 + shift_income, 10, rows),
            "tenure": rng.exponential(24, rows),
            "charges": rng.gamma(4, 20, rows),
            "age": rng.integers(18, 90, rows).astype(float),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=list(plan_mix)),
            "region": rng.choice(["north", "south", "east", "west"], rows),
        }
    )


def test_exactly_the_two_shifted_features_are_flagged() -> None:
    reference = frame(20_000, 1)
    current = frame(20_000, 2, shift_income=6.0, plan_mix=(0.2, 0.3, 0.5))
    report = compare_frames(reference, current)
    assert sorted(report.drifted) == ["income", "plan"]
    assert report.warned == []
    by_name = {f.feature: f for f in report.features}
    assert by_name["income"].kind == "numeric" and by_name["plan"].kind == "categorical"
    assert by_name["income"].psi > 0.25 and by_name["plan"].psi > 0.25
    assert by_name["plan"].js_distance > 0.1 and by_name["region"].js_distance < 0.02
    assert "2 of 6 features drifted" in report.summary()


def test_same_distribution_flags_nothing() -> None:
    report = compare_frames(frame(20_000, 1), frame(20_000, 2))
    assert report.drifted == [] and report.warned == []
    assert max(f.psi for f in report.features) < 0.01


def test_ks_and_wasserstein_match_scipy_on_continuous_data() -> None:
    reference, current = frame(50_000, 3), frame(50_000, 4, shift_income=2.0)
    income = {f.feature: f for f in compare_frames(reference, current).features}["income"]
    exact_ks = stats.ks_2samp(reference["income"], current["income"]).statistic
    exact_w = stats.wasserstein_distance(reference["income"], current["income"])
    assert income.ks == pytest.approx(exact_ks, abs=0.002)  # one fine bin's mass at most
    assert income.wasserstein == pytest.approx(exact_w, rel=0.05)  # tails beyond the range


def test_psi_bins_missing_values_and_empty_bins() -> None:
    reference = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan])
    coarse, _ = numeric_edges(reference)
    assert len(coarse) == 9
    counts = bin_counts(np.array([0.0, 10.0, 10.5, np.nan, np.nan]), coarse)
    assert counts.tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2]
    # an empty bin counts as EPSILON, so PSI stays finite; identical counts give 0
    assert psi_from_counts(np.array([5, 5]), np.array([10, 0])) == pytest.approx(
        (1 - 0.5) * np.log(1 / 0.5) + (EPSILON - 0.5) * np.log(EPSILON / 0.5)
    )
    assert psi_from_counts(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0.0)


def test_a_column_of_shared_objects_counts_as_one_of_distinct_objects() -> None:
    """Frames read from Parquet or Delta share one object per distinct string (counted by
    address); frames built in Python have one object per row (counted by value): the same
    counts, with missing values (None, NaN) left out either way."""
    from collections import Counter

    import pyarrow as pa

    from mlops_hooks.shared.domain.drift import value_counts

    rng = np.random.default_rng(3)
    texts = rng.choice(["basic", "plus", "pro", "pro "], 50_000).tolist()
    missing = rng.random(50_000) < 0.1
    values = [None if gone else text for text, gone in zip(texts, missing, strict=True)]
    shared = pa.array(values).to_pandas()  # as a Parquet or Delta read gives it
    own = pd.Series(
        [np.nan if v is None else "".join(list(v)) for v in values], dtype=object
    )  # a new object per row, NaN for missing
    assert len({id(v) for v in shared}) <= 5  # the address path runs
    assert len({id(v) for v in own}) > 40_000  # the value path runs

    expected = dict(Counter(v for v in values if v is not None))
    assert value_counts(shared) == expected
    assert value_counts(own) == expected
    assert len(expected) == 4 and sum(expected.values()) == int((~missing).sum())
