"""The batch job's per-row maps, built in Arrow: the same as one dict per row."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from mlops_hooks.jobs.batch_inference import arrow_map, arrow_strings
from mlops_hooks.shared.domain.live import as_text


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


def test_string_columns_in_arrow_whether_repeated_or_not() -> None:
    repeated = np.full(5, "champion")
    mixed = np.array(["champion", "challenger", "champion"])
    predictions = np.array(["No", "Yes", None], dtype=object)
    assert arrow_strings(repeated).to_pylist() == ["champion"] * 5
    assert arrow_strings(mixed).to_pylist() == ["champion", "challenger", "champion"]
    assert arrow_strings(predictions).to_pylist() == ["No", "Yes", None]
    assert arrow_strings(np.array([], dtype=str)).to_pylist() == []
    assert all(arrow_strings(c).type == pa.string() for c in (repeated, mixed, predictions))


def test_text_columns_are_object_arrays_of_str_and_never_truncated() -> None:
    picked = np.asarray(["No", "Yes"], dtype=object)[[0, 1, 1]]
    assert as_text(picked) is picked  # already text: kept, not converted row by row
    served = as_text(np.array(["No", "No"]))  # fixed-width U2 in, object out
    served[0] = "Yes"
    assert served.tolist() == ["Yes", "No"]
    assert as_text([0, 1, 1]).tolist() == ["0", "1", "1"]
    assert as_text(np.array([1.0, np.nan], dtype=object)).tolist() == ["1.0", "nan"]


def test_a_folder_and_a_broadcast_estimator_score_alike_and_old_models_are_let_go(
    tmp_path, churn
) -> None:
    """A worker scores a model folder (loaded as a pyfunc) and the estimator a driver would
    broadcast (here its stand-in: anything with ``.value``) to the same predictions and
    scores; a new job's scorers drop the models an earlier job left in the reused worker."""
    import mlflow.sklearn

    from mlops_hooks.jobs import batch_inference as job
    from mlops_hooks.jobs.train import model_requirements
    from mlops_hooks.shared.domain.live import plan_scoring

    train, _, model = churn
    features = train.drop(columns=["Churn"]).head(300)
    folder = str(tmp_path / "model")
    # the requirements named: MLflow's inference loads the model in a subprocess (~4.5 s CPU)
    mlflow.sklearn.save_model(model, folder, pip_requirements=model_requirements())
    columns = list(features.columns)

    class Shared:  # pyspark's Broadcast as a worker sees it: the value
        value = model

    plan, _ = plan_scoring("single", model="churn", champion="1", resolved={})
    job._LOADED["spark-file:an-earlier-job"] = object()
    by_folder = job._scorers(plan, {"1": folder}, {"1": columns}, "Yes")["1"](features)
    assert set(job._LOADED) == {folder}
    broadcast = job.BroadcastModel("broadcast:v1", Shared())
    by_estimator = job._scorers(plan, {"1": broadcast}, {"1": columns}, "Yes")["1"](features)
    assert set(job._LOADED) == {"broadcast:v1"}
    assert list(by_folder[0]) == list(by_estimator[0]) == [str(p) for p in model.predict(features)]
    assert np.allclose(by_folder[1], model.predict_proba(features)[:, 1])
    assert np.array_equal(by_folder[1], by_estimator[1])
