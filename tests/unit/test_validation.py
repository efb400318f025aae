"""The validation checks over in-memory fakes of the model and data ports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_hooks.shared.domain import churn_data
from mlops_hooks.shared.domain.policy import Checks, Holdout
from mlops_hooks.shared.domain.validation import validate
from mlops_hooks.shared.ports.registry import Lineage, ModelVersion
from tests.support.fakes import Constant, FakeModel, schema_of

HOLDOUT = Holdout(uri="memory://holdout", label="Churn")
ALL_CHECKS = Checks.model_validate(
    {
        "loads": {},
        "signature": {},
        "input_example": {},
        "predictions": {},
        "metrics": {"thresholds": {"roc_auc": {"min": 0.75}, "log_loss": {"max": 0.6}}},
        "slices": {"columns": ["Contract"], "metric": "roc_auc", "min": 0.6},
        "latency": {"p95_ms": 2000, "batch_rows": 1000, "repeats": 3},
        "size": {"max_mb": 1},
        "tags": {"required": ["owner"]},
        "lineage": {},
    }
)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = churn_data.generate(3000, seed=1)
    return frame.iloc[:2400], frame.iloc[2400:].reset_index(drop=True)


@pytest.fixture(scope="module")
def good(data) -> FakeModel:
    train, holdout = data
    features = holdout.drop(columns=["Churn"])
    return FakeModel(churn_data.train_classifier(train), schema_of(features), features.head(3))


def run(model, holdout, checks=ALL_CHECKS, *, tags=None, lineage=None, spec=HOLDOUT):
    version = ModelVersion("churn", "3", "READY", run_id="r1", tags=tags or {"owner": "ada"})
    runs = {
        "r1": lineage or Lineage(True, params=4, datasets=["train (training)"], training_datasets=1)
    }

    def load():
        if isinstance(model, Exception):
            raise model
        return model

    return validate(
        version,
        checks,
        spec,
        load_model=load,
        read_holdout=None if holdout is None else (lambda: holdout),
        lineage=lambda run_id: runs.get(run_id, Lineage(False)),
    )


def by_name(result) -> dict:
    return {c.name: c for c in result.checks}


def test_a_good_churn_model_passes_all_ten_checks_with_numbers(data, good) -> None:
    result = run(good, data[1])
    checks = by_name(result)
    assert result.verdict == "passed", [(c.name, c.reason) for c in result.checks]
    assert list(checks) == list(Checks.model_fields)
    assert 0.75 < checks["metrics"].numbers["roc_auc"] < 1
    assert checks["metrics"].threshold == "roc_auc ≥ 0.75, log_loss ≤ 0.6"
    assert checks["slices"].numbers["slices"] == 3  # three contract types
    assert checks["latency"].numbers["p95_ms"] > 0
    assert checks["predictions"].numbers["probabilities_outside_0_1"] == 0
    assert "600 rows" in result.data and "positive class `Yes`" in result.data


def test_a_constant_predictor_fails_metrics_with_its_numbers(data, good) -> None:
    constant = FakeModel(Constant("No"), good.schema, good.example)
    checks = by_name(run(constant, data[1]))
    metrics = checks["metrics"]
    assert metrics.status == "failed" and metrics.numbers["roc_auc"] == 0.5
    assert "roc_auc 0.5000 (needs ≥ 0.75)" in metrics.reason
    slices = checks["slices"]
    assert slices.status == "failed" and "Contract=Month-to-month roc_auc 0.500" in slices.reason
    assert checks["predictions"].numbers["distinct"] == 1


def test_a_model_without_probabilities_cannot_pass_a_roc_auc_threshold(data, good) -> None:
    class LabelsOnly:
        def predict(self, frame):
            return np.where(frame.Contract == "Month-to-month", "Yes", "No")

    checks = by_name(
        run(
            FakeModel(LabelsOnly(), good.schema),
            data[1],
            Checks(metrics={"thresholds": {"roc_auc": {"min": 0.5}}}),
        )
    )
    assert checks["metrics"].status == "failed"
    assert checks["metrics"].reason == "roc_auc: the model gives no probabilities"


def test_no_signature_and_no_example_fail_by_name(data, good) -> None:
    bare = FakeModel(good.estimator, None, None)
    result = run(bare, data[1])
    checks = by_name(result)
    assert checks["signature"].reason == "the model was logged without a signature"
    assert checks["input_example"].status == "failed"
    assert set(result.failed) == {"signature", "input_example"}


def test_signature_names_missing_columns_and_wrong_types(data, good) -> None:
    holdout = (
        data[1]
        .drop(columns=["tenure"])
        .assign(MonthlyCharges=lambda f: f.MonthlyCharges.astype(str))
    )
    check = by_name(run(good, holdout, Checks(signature={})))["signature"]
    assert check.status == "failed"
    assert "missing in holdout: tenure" in check.reason
    assert "MonthlyCharges (object, wants double)" in check.reason


def test_a_model_that_does_not_load_fails_loads_and_skips_the_rest(data) -> None:
    result = run(OSError("artifact store unreachable"), data[1])
    checks = by_name(result)
    assert (
        checks["loads"].status == "failed"
        and "artifact store unreachable" in checks["loads"].reason
    )
    assert checks["metrics"].status == "skipped"
    assert result.failed == ["loads"]


def test_unreadable_holdout_and_missing_label_fail_the_data_checks(good, data) -> None:
    gone = run(good, None, Checks(metrics={}), spec=HOLDOUT)
    assert gone.checks[0].status == "failed" and "no holdout" in gone.checks[0].reason
    unlabelled = run(good, data[1].drop(columns=["Churn"]), Checks(metrics={}))
    assert "label column 'Churn' is not in the holdout" in unlabelled.checks[0].reason


def test_tags_lineage_size_and_latency_budgets(data, good) -> None:
    tiny = FakeModel(good.estimator, good.schema, good.example, size_bytes=3_000_000)
    checks = Checks.model_validate(
        {
            "size": {"max_mb": 1},
            "tags": {"required": ["owner", "ticket"]},
            "lineage": {},
            "latency": {"p95_ms": 0.0001, "repeats": 2},
        }
    )
    result = by_name(run(tiny, data[1], checks, lineage=Lineage(True, params=0)))
    assert result["size"].status == "failed" and result["size"].numbers["mb"] == 3.0
    assert result["tags"].reason == "missing: ticket"
    assert "no params logged" in result["lineage"].reason
    assert "no training dataset" in result["lineage"].reason
    assert result["latency"].status == "failed"


def test_predictions_catch_nan_and_probabilities_outside_0_1(data, good) -> None:
    class Broken:
        classes_ = ["No", "Yes"]

        def predict(self, frame):
            out = np.zeros(len(frame))
            out[:5] = np.nan
            return out

        def predict_proba(self, frame):
            return np.column_stack([np.full(len(frame), -0.5), np.full(len(frame), 1.5)])

    check = by_name(run(FakeModel(Broken(), good.schema), data[1], Checks(predictions={})))
    assert check["predictions"].status == "failed"
    assert check["predictions"].numbers["non_finite"] == 5
    assert "probabilities outside [0, 1]" in check["predictions"].reason


def test_regressor_metrics(data) -> None:
    frame = pd.DataFrame({"x": np.arange(200.0)}).assign(y=lambda f: 2 * f.x + 1)

    class Line:
        def predict(self, f):
            return 2 * f.x.to_numpy() + 1.5

    spec = Holdout(uri="memory://r", label="y")
    checks = Checks.model_validate(
        {"metrics": {"thresholds": {"mae": {"max": 1}, "r2": {"min": 0.99}}}}
    )
    result = run(FakeModel(Line(), schema_of(frame[["x"]])), frame, checks, spec=spec)
    assert result.verdict == "passed"
    assert result.checks[0].numbers == {"mae": 0.5, "r2": 1.0}
    assert "regressor" in result.data
