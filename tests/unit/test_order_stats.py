"""The cell index answers exactly as a full sort does, on awkward data too."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_hooks.shared.domain.order_stats import Grid, OrderIndex, SortedOrder, order_of


def _awkward(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 20_000
    heavy = rng.standard_cauchy(n)
    heavy[:3] = [1e300, -1e300, 0.0]
    return {
        "normal": rng.normal(5, 2, n),
        "ties": rng.integers(0, 7, n).astype(float),
        "heavy tail": heavy,
        "infinities": np.concatenate([rng.normal(0, 1, n), [np.inf, -np.inf, np.inf]]),
        "one value": np.full(n, 3.25),
        "tiny range": 1.0 + rng.integers(0, 5, n) * np.finfo(float).eps,
        "two points": np.array([1.0, 2.0]),
        "one point": np.array([7.0]),
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_order_queries_match_a_full_sort(seed: int) -> None:
    for name, values in _awkward(seed).items():
        ordered = np.sort(values)
        order = order_of(values, Grid.over(values))
        ranks = np.random.default_rng(seed).integers(0, values.size, 500)
        assert np.array_equal(order.take(ranks), ordered[ranks]), name
        # edges at the values themselves (ties), between them, and outside the range
        edges = np.concatenate([ordered[ranks], ordered[ranks] + 1e-9, [-np.inf, 1e308, np.inf]])
        expected = np.searchsorted(ordered, edges, side="left")
        assert np.array_equal(order.count_below(edges), expected), name


def test_the_current_side_on_the_reference_grid_counts_like_a_sort() -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.normal(0, 1, 50_000), rng.normal(3, 4, 50_000)  # mostly outside
    grid = Grid.over(reference)
    assert grid is not None
    edges = np.quantile(reference, np.arange(1, 1000) / 1000)
    counted = OrderIndex(current, grid).count_below(edges)
    assert np.array_equal(counted, np.searchsorted(np.sort(current), edges, side="left"))


def test_no_grid_for_values_without_a_range() -> None:
    assert Grid.over(np.full(10, 2.0)) is None
    assert Grid.over(np.array([np.inf, -np.inf])) is None
    assert Grid.over(np.array([-1e308, 1e308])) is None  # the width overflows
    assert isinstance(order_of(np.full(10, 2.0), None), SortedOrder)
