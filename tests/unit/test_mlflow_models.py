"""The suite's model-logging helper logs the dataset MLflow itself would describe."""

from __future__ import annotations

import mlflow.data
import pytest

from mlops_hooks.shared.domain import churn_data
from tests.support.mlflow_models import training_dataset


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")
def test_the_dataset_described_once_per_frame_is_the_one_mlflow_describes() -> None:
    train = churn_data.generate(400, seed=3)
    other = churn_data.generate(400, seed=4)
    expected = mlflow.data.from_pandas(train, name="m-train", targets="Churn").to_dict()

    assert training_dataset(train, "m-train", "Churn").to_dict() == expected
    assert training_dataset(train, "m-train", "Churn").to_dict() == expected  # described again
    renamed = training_dataset(train, "n-train", "Churn").to_dict()
    assert renamed == {**expected, "name": "n-train"}
    # another frame is described on its own: its digest, not the first frame's
    theirs = mlflow.data.from_pandas(other, name="m-train", targets="Churn").to_dict()
    assert training_dataset(other, "m-train", "Churn").to_dict() == theirs
    assert theirs["digest"] != expected["digest"]
