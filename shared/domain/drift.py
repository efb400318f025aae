"""Drift statistics: how far the current inputs of a model have moved from its reference.

Everything is computed from **bin counts over the reference's own bins**, which is what lets
the in-memory path (numpy, below) and the Spark path (jobs/drift_spark.py: approximate
quantiles for the edges, one histogram aggregation for the counts) agree exactly on the same
bins, and lets a reference profile be kept small.

Numeric features
    - PSI over ``PSI_BINS`` (10) quantile bins of the reference, plus a bin for missing values;
      an empty bin's share is replaced by ``EPSILON`` (1e-4) so the logarithm stays finite;
    - the Kolmogorov-Smirnov statistic and the Wasserstein-1 distance, from the two empirical
      CDFs at ``FINE_BINS`` (1,000) reference quantiles: the KS value is exact at those points
      (it can miss at most one fine bin's mass, 0.1 %, between them), the Wasserstein
      distance integrates |F_ref - F_cur| over the reference's range.
Categorical features
    - PSI over the reference's categories (others pooled as "other", missing as its own);
    - the Jensen-Shannon distance (base 2: 0 = same, 1 = disjoint).

Decisions use the PSI effect size against the policy's thresholds (``drift.psi_warn``, default
0.1; ``drift.psi_drift``, default 0.25), never a p-value: at a million rows every p-value is tiny.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.order_stats import Grid, OrderIndex, SortedOrder, order_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PSI_BINS = 10
FINE_BINS = 1000
EPSILON = 1e-4  # the share given to an empty bin in PSI
MAX_CATEGORIES = 50  # more distinct values than this in the reference: the rest is "other"
PARALLEL_FROM_ROWS = 200_000  # fewer rows: threads cost more than they give
IDENTITY_FROM_ROWS = 10_000  # fewer rows: hashing every value is quick anyway
MAX_IDENTITIES = 4096  # more distinct objects in a column: count by value
OTHER, MISSING = "__other__", "__missing__"


@dataclass
class FeatureDrift:
    feature: str
    kind: str  # numeric, categorical
    psi: float
    status: str  # ok, warn, drift
    ks: float | None = None
    wasserstein: float | None = None
    js_distance: float | None = None
    reference_rows: int = 0
    current_rows: int = 0
    # the PSI bins, for histograms: labels, and each side's share per bin
    bins: list[str] = field(default_factory=list)
    reference_share: list[float] = field(default_factory=list)
    current_share: list[float] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DriftReport:
    features: list[FeatureDrift]
    psi_warn: float
    psi_drift: float

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.worst() if f.status == "drift"]

    @property
    def warned(self) -> list[str]:
        return [f.feature for f in self.worst() if f.status == "warn"]

    def worst(self, n: int | None = None) -> list[FeatureDrift]:
        ranked = sorted(self.features, key=lambda f: f.psi, reverse=True)
        return ranked if n is None else ranked[:n]

    def summary(self) -> str:
        if not self.features:
            return "no features compared"
        top = self.worst(1)[0]
        return (
            f"{len(self.drifted)} of {len(self.features)} features drifted "
            f"(PSI ≥ {self.psi_drift:g}), {len(self.warned)} warn (≥ {self.psi_warn:g}); "
            f"worst {top.feature} PSI {top.psi:.3f}"
        )


# --- the statistics, from counts ---------------------------------------------------------


def status_of(psi: float, warn: float, drift: float) -> str:
    return "drift" if psi >= drift else "warn" if psi >= warn else "ok"


def psi_from_counts(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    import numpy as np

    p = _shares(reference)
    q = _shares(current)
    return float(np.sum((q - p) * np.log(q / p)))


def _shares(counts: np.ndarray) -> np.ndarray:
    import numpy as np

    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts)
    return np.where(shares == 0, EPSILON, shares)


def numeric_edges(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(PSI edges, fine edges): the inner edges of the reference's quantile bins, deduplicated
    (a feature with many ties has fewer bins)."""
    present = _present(reference)
    return _edges(order_of(present, Grid.over(present)), present.size)


def _present(values: np.ndarray) -> np.ndarray:
    """The values without NaN (the array itself when it has none)."""
    import numpy as np

    missing = np.isnan(values)
    return values[~missing] if missing.any() else values


def _edges(order: OrderIndex | SortedOrder, size: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy's default ("linear") quantiles at PSI_BINS and FINE_BINS, from the order
    statistics they interpolate between (all taken in one query)."""
    import numpy as np

    if size == 0:
        return np.array([]), np.array([])

    def around(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = np.arange(1, count) / count * (size - 1)
        low = np.floor(position).astype(np.int64)
        return low, np.minimum(low + 1, size - 1), position - low

    coarse, fine = around(PSI_BINS), around(FINE_BINS)
    ranks = np.concatenate([coarse[0], coarse[1], fine[0], fine[1]])
    values = order.take(ranks)
    cuts = np.cumsum([0, coarse[0].size, coarse[1].size, fine[0].size, fine[1].size])
    low_c, high_c, low_f, high_f = (values[a:b] for a, b in itertools.pairwise(cuts))
    return (
        np.unique(low_c + (high_c - low_c) * coarse[2]),
        np.unique(low_f + (high_f - low_f) * fine[2]),
    )


def bin_counts(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Counts per bin [e_i, e_i+1) (outermost bins open-ended), then the missing values."""
    present = _present(values)
    below = order_of(present, Grid.over(present)).count_below(inner_edges)
    return _binned(below, present.size, int(values.size - present.size))


def _binned(below: np.ndarray, size: int, missing: int) -> np.ndarray:
    """Bin counts from how many of ``size`` values lie below each edge, then the missing."""
    import numpy as np

    return np.append(np.diff(np.concatenate([[0], below, [size]])), missing)


def ks_and_wasserstein(
    reference_fine: np.ndarray, current_fine: np.ndarray, inner_edges: np.ndarray
) -> tuple[float, float]:
    """From counts over the fine bins (missing values last, excluded): the CDFs at each inner
    edge give KS (their largest gap) and Wasserstein-1 (the gap integrated between edges)."""
    import numpy as np

    ref, cur = reference_fine[:-1], current_fine[:-1]
    # cumsum[j] = values below inner edge j; the last bin's sum (everything) is dropped
    f_ref = np.cumsum(ref)[:-1] / max(ref.sum(), 1)
    f_cur = np.cumsum(cur)[:-1] / max(cur.sum(), 1)
    gap = np.abs(f_ref - f_cur)
    return float(gap.max(initial=0.0)), float(np.sum(gap[:-1] * np.diff(inner_edges)))


def value_counts(values: pd.Series) -> dict[str, int]:
    """Counts of each value as text (one hashing pass; only the distinct values become text)."""
    # only a column of Python objects: another dtype (categorical, Arrow strings) counts
    # without hashing objects already, and converting it to objects would cost a pass
    found = _counts_by_identity(values.to_numpy()) if values.dtype == object else None
    if found is not None:
        return found
    counts: dict[str, int] = {}
    for value, count in values.value_counts(dropna=True).items():
        _add(counts, value, int(count))
    return counts


def _add(counts: dict[str, int], value: object, count: int) -> None:
    key = str(value)
    counts[key] = counts.get(key, 0) + count


def _counts_by_identity(array: np.ndarray) -> dict[str, int] | None:
    """The same counts from the objects' addresses, when a column of Python objects holds few
    distinct objects (None: it does not).

    Why hand-written: pandas hashes every object (a string's text) under the GIL, 27-37 ms a
    million rows, which also stalls the numeric features' threads. A frame made by pyarrow
    (Delta, Parquet: ``to_pandas`` shares one object per distinct string) has a handful of
    objects per column, so their addresses are counted as integers (3 ms, no object touched)
    and each distinct object is named once. None of numpy, pandas or pyarrow counts by
    identity."""
    import ctypes

    import numpy as np
    import pandas as pd

    if array.size < IDENTITY_FROM_ROWS:
        return None
    array = np.ascontiguousarray(array)  # a copy of the references, if any: same objects
    # the array's buffer of object pointers, read as integers; ``array`` outlives the view
    addresses = np.frombuffer(
        (ctypes.c_ssize_t * array.size).from_address(array.ctypes.data), dtype=np.intp
    )
    if np.unique(addresses[:: max(1, array.size // 1024)]).size > 64:
        return None  # most rows are objects of their own (a frame built in Python)
    codes, distinct = pd.factorize(addresses)
    if distinct.size > MAX_IDENTITIES:
        return None
    per_code = np.bincount(codes, minlength=distinct.size)
    # codes are numbered in order of first appearance: where their running maximum rises
    first = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1))
    counts: dict[str, int] = {}
    for value, count in zip(array[first], per_code.tolist(), strict=True):
        if not (pd.api.types.is_scalar(value) and pd.isna(value)):  # as dropna=True drops
            _add(counts, value, count)
    return counts


def categorical_counts(seen: dict[str, int], missing: int, categories: list[str]) -> np.ndarray:
    """Counts of each reference category, then "other", then missing."""
    import numpy as np

    known = [seen.get(c, 0) for c in categories]
    return np.array([*known, sum(seen.values()) - sum(known), missing], dtype=np.int64)


def reference_categories(seen: dict[str, int]) -> list[str]:
    """The reference's most frequent values (ties by name), at most MAX_CATEGORIES."""
    ranked = sorted(seen.items(), key=lambda vc: (-vc[1], vc[0]))
    return [value for value, _ in ranked[:MAX_CATEGORIES]]


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(reference, current, base=2))


# --- the in-memory check -----------------------------------------------------------------


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: list[str] | None = None,
    psi_warn: float = 0.1,
    psi_drift: float = 0.25,
) -> DriftReport:
    """Per-feature drift of ``current`` against ``reference`` (columns of both, or ``features``)."""
    names = features or [c for c in reference.columns if c in current.columns]

    def one(name: str) -> FeatureDrift:
        ref, cur = reference[name], current[name]
        if _is_numeric(ref):
            return _numeric(name, ref, cur, psi_warn, psi_drift)
        return _categorical(name, ref, cur, psi_warn, psi_drift)

    rows = len(reference) + len(current)
    workers = min(len(names), os.cpu_count() or 1) if rows >= PARALLEL_FROM_ROWS else 1
    if workers <= 1:
        return DriftReport([one(name) for name in names], psi_warn, psi_drift)
    # numpy lets go of the GIL in its counts and arithmetic, so the features of a large frame
    # are checked side by side; the categoricals (pandas hashes Python strings under the GIL)
    # go first, so that the numeric features' work overlaps theirs instead of waiting at the end
    numeric = {n for n in names if _is_numeric(reference[n])}
    order = sorted(names, key=lambda n: n in numeric)
    with ThreadPoolExecutor(workers, thread_name_prefix="drift") as pool:
        done = dict(zip(order, pool.map(one, order), strict=True))
    return DriftReport([done[n] for n in names], psi_warn, psi_drift)


def _is_numeric(values: pd.Series) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(values) and not is_bool_dtype(values)


def _numeric(name: str, ref: pd.Series, cur: pd.Series, warn: float, drift: float) -> FeatureDrift:
    import numpy as np

    ref_values = ref.to_numpy(dtype=float, na_value=np.nan)
    cur_values = cur.to_numpy(dtype=float, na_value=np.nan)
    ref_present, cur_present = _present(ref_values), _present(cur_values)
    grid = Grid.over(ref_present)  # one grid for both sides: the cells of the edges agree
    ref_order, cur_order = order_of(ref_present, grid), order_of(cur_present, grid)
    ref_missing = ref_values.size - ref_present.size
    cur_missing = cur_values.size - cur_present.size
    coarse, fine = _edges(ref_order, ref_present.size)
    both = np.concatenate([coarse, fine])  # one query per side for both sets of edges
    ref_below = ref_order.count_below(both)
    cur_below = cur_order.count_below(both)
    k = coarse.size
    return numeric_result(
        name,
        coarse,
        (
            _binned(ref_below[:k], ref_present.size, ref_missing),
            _binned(cur_below[:k], cur_present.size, cur_missing),
        ),
        fine,
        (
            _binned(ref_below[k:], ref_present.size, ref_missing),
            _binned(cur_below[k:], cur_present.size, cur_missing),
        ),
        warn=warn,
        drift=drift,
    )


def numeric_result(
    name: str,
    coarse_edges: np.ndarray,
    coarse_counts: tuple[np.ndarray, np.ndarray],
    fine_edges: np.ndarray,
    fine_counts: tuple[np.ndarray, np.ndarray],
    *,
    warn: float,
    drift: float,
) -> FeatureDrift:
    """A numeric feature's drift from (reference, current) counts over its bins."""
    ref_counts, cur_counts = coarse_counts
    psi = psi_from_counts(ref_counts, cur_counts)
    ks, wasserstein = ks_and_wasserstein(*fine_counts, fine_edges)
    return FeatureDrift(
        name,
        "numeric",
        psi,
        status_of(psi, warn, drift),
        ks=ks,
        wasserstein=wasserstein,
        reference_rows=int(ref_counts.sum()),
        current_rows=int(cur_counts.sum()),
        bins=_numeric_labels(coarse_edges),
        reference_share=_plain_shares(ref_counts),
        current_share=_plain_shares(cur_counts),
    )


def _categorical(
    name: str, ref: pd.Series, cur: pd.Series, warn: float, drift: float
) -> FeatureDrift:
    ref_seen, cur_seen = value_counts(ref), value_counts(cur)
    categories = reference_categories(ref_seen)
    counts = (
        categorical_counts(ref_seen, len(ref) - sum(ref_seen.values()), categories),
        categorical_counts(cur_seen, len(cur) - sum(cur_seen.values()), categories),
    )
    return categorical_result(name, categories, counts, warn=warn, drift=drift)


def categorical_result(
    name: str,
    categories: list[str],
    counts: tuple[np.ndarray, np.ndarray],
    *,
    warn: float,
    drift: float,
) -> FeatureDrift:
    """A categorical feature's drift from counts: its categories, then other, then missing."""
    ref_counts, cur_counts = counts
    psi = psi_from_counts(ref_counts, cur_counts)
    return FeatureDrift(
        name,
        "categorical",
        psi,
        status_of(psi, warn, drift),
        js_distance=js_distance(ref_counts, cur_counts),
        reference_rows=int(ref_counts.sum()),
        current_rows=int(cur_counts.sum()),
        bins=[*categories, OTHER, MISSING],
        reference_share=_plain_shares(ref_counts),
        current_share=_plain_shares(cur_counts),
    )


def _numeric_labels(edges: np.ndarray) -> list[str]:
    if len(edges) == 0:
        return ["all", MISSING]
    cuts = [f"{e:.4g}" for e in edges]
    return [
        f"< {cuts[0]}",
        *(f"{a} to {b}" for a, b in itertools.pairwise(cuts)),
        f"≥ {cuts[-1]}",
        MISSING,
    ]


def _plain_shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]
