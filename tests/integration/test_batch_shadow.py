"""Batch inference beside the champion, on local Spark against the real MLflow server: the
train job registers v1 (champion) and v2 (challenger); shadow scoring writes both versions'
predictions for every row and serves the champion's; a split serves each row its arm's
version, the same arms on a second run."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable
from mlflow import MlflowClient

from mlops_hooks.jobs.batch_inference import arguments as scoring
from mlops_hooks.jobs.batch_inference import batch_inference
from mlops_hooks.jobs.cli import JobError
from mlops_hooks.jobs.train import arguments as training
from mlops_hooks.jobs.train import train
from mlops_hooks.shared.domain import churn_data
from mlops_hooks.shared.domain.live import assign_arms
from tests.support.processes import Proc


def test_shadow_and_split_scoring_in_one_pass(
    mlflow_server: Proc, spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = f"shadow-{uuid.uuid4().hex[:6]}"
    data = tmp_path / "train.csv"
    data.write_text(churn_data.to_telco_csv(churn_data.generate(1200, seed=11)))
    client = MlflowClient(tracking_uri=mlflow_server.url)
    for estimator in ("logistic_regression", "gradient_boosting"):
        train(
            training(
                [
                    "--data",
                    str(data),
                    "--model",
                    model,
                    "--id-columns",
                    "customerID",
                    "--features-table",
                    str(tmp_path / f"features-{estimator}"),
                    "--holdout-table",
                    str(tmp_path / f"holdout-{estimator}"),
                    "--estimator",
                    estimator,
                    "--tracking-uri",
                    mlflow_server.url,
                ]
            )
        )
    client.set_registered_model_alias(model, "champion", "1")
    client.set_registered_model_alias(model, "challenger", "2")
    customers = tmp_path / "customers.csv"
    customers.write_text(churn_data.to_telco_csv(churn_data.generate(600, seed=12)))
    scratch = tmp_path / "scratch"  # the job's temporary files: none may outlive a run
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def run(output: str, *deployment: str, table: Path = customers) -> dict:
        try:
            return batch_inference(
                scoring(
                    [
                        "--model",
                        model,
                        "--input",
                        str(table),
                        "--output",
                        str(tmp_path / output),
                        "--id-columns",
                        "customerID",
                        "--score-date",
                        "2026-11-23",
                        "--tracking-uri",
                        mlflow_server.url,
                        *deployment,
                    ]
                )
            )
        finally:
            assert list(scratch.iterdir()) == []  # the downloaded models are let go

    def score(output: str, *deployment: str) -> pd.DataFrame:
        done = run(output, *deployment)
        assert done["rows"] == 600, done
        return DeltaTable(str(tmp_path / output)).to_pandas()

    shadow = score("shadow", "--deployment", "shadow", "--challengers", "challenger,7")
    assert len(shadow) == 600
    assert set(shadow["model_version"]) == {"1"} and set(shadow["arm"]) == {"champion"}
    versions = [sorted(dict(p)) for p in shadow["predictions"]]
    assert all(v == ["1", "2"] for v in versions)  # v7 does not exist: left out
    served = [dict(p)["1"] for p in shadow["predictions"]]
    assert shadow["prediction"].tolist() == served  # the champion's, never the shadow's
    shadows = [dict(p)["2"] for p in shadow["predictions"]]
    assert shadows != served  # the shadow is really another model
    assert all(0 <= dict(s)["2"] <= 1 for s in shadow["scores"])

    split = ["--deployment", "split", "--challengers", "challenger"]
    split += ["--split", "champion=70,challenger=30", "--assign-by", "customerID"]
    first, again = score("split", *split), score("split-again", *split)
    arms = assign_arms(first["customerID"], {"champion": 70, "challenger": 30}, salt=model)
    assert first["arm"].tolist() == arms  # the same function in Spark as in process
    by_id = dict(zip(again["customerID"], again["arm"], strict=True))
    assert [by_id[c] for c in first["customerID"]] == arms  # a second run: the same arms
    wanted = {"champion": "1", "challenger": "2"}
    assert first["model_version"].tolist() == [wanted[a] for a in arms]
    picked = [dict(p)[v] for p, v in zip(first["predictions"], first["model_version"], strict=True)]
    assert first["prediction"].tolist() == picked

    narrow = tmp_path / "narrow.csv"  # a table without the models' inputs: the run fails
    narrow.write_text("customerID,tenure\nA-1,3\n")
    with pytest.raises(JobError, match="lacks v1's input columns"):
        run("refused", table=narrow)
