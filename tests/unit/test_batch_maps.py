"""The batch job's per-row maps, built in Arrow: the same as one dict per row."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from mlops_hooks.jobs.batch_inference import arrow_map


def test_maps_hold_each_versions_value_by_row_and_leave_out_missing_scores() -> None:
    rows = 1000
    rng = np.random.default_rng(7)
    versions = ("3", "4", "7")
    scores = [rng.random(rows) for _ in versions]
    scores[1][rng.random(rows) < 0.3] = np.nan  # v4 gives no score on some rows
    scores[2][:] = np.nan  # v7 gives none at all
    labels = [np.where(s > 0.5, "Yes", "No").astype(object) for s in scores]

    predictions = arrow_map(versions, labels, pa.string(), drop_nan=False).to_pylist()
    scored = arrow_map(versions, scores, pa.float64(), drop_nan=True).to_pylist()

    assert len(predictions) == len(scored) == rows
    for row in range(rows):
        assert dict(predictions[row]) == {
            v: str(c[row]) for v, c in zip(versions, labels, strict=True)
        }
        wanted = {
            v: c[row] for v, c in zip(versions, scores, strict=True) if not math.isnan(c[row])
        }
        assert dict(scored[row]) == wanted
    assert any("4" not in dict(m) for m in scored) and any("4" in dict(m) for m in scored)


def test_one_version_and_an_empty_batch() -> None:
    one = arrow_map(("1",), [np.array([0.1, np.nan])], pa.float64(), drop_nan=True)
    assert one.to_pylist() == [[("1", 0.1)], []]
    empty = arrow_map(("1", "2"), [np.array([]), np.array([])], pa.float64(), drop_nan=True)
    assert len(empty) == 0 and empty.type == pa.map_(pa.string(), pa.float64())
