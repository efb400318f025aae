"""Log and register churn models on a real MLflow server, the way a data scientist would."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.models.model import ModelInfo


def log_churn_model(
    tracking_uri: str,
    name: str,
    estimator: Any,
    train: pd.DataFrame,
    *,
    label: str = "Churn",
    with_signature: bool = True,
) -> ModelInfo:
    """Log ``estimator`` in a run with params and its training dataset (not registered yet)."""
    import mlflow
    import mlflow.sklearn

    from mlops_hooks.jobs.train import model_requirements

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(name)
    features = train.drop(columns=[label])
    with mlflow.start_run():
        mlflow.log_params({"rows": len(train), "estimator": type(estimator).__name__})
        mlflow.log_input(training_dataset(train, f"{name}-train", label), context="training")
        return mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=features.head(3) if with_signature else None,
            signature=None if with_signature else False,
            # named, as the train job names them: MLflow's inference would load the model in a
            # subprocess for ~4 s of CPU each time, which is not what these tests are about
            pip_requirements=model_requirements(),
        )


# id(frame) -> (the frame, its digest, its schema): kept with the frame so the id stays its own
_DESCRIBED: dict[int, tuple[pd.DataFrame, str, Any]] = {}


def training_dataset(train: pd.DataFrame, name: str, label: str) -> Any:
    """``mlflow.data.from_pandas(train, name=name, targets=label)``, with the digest and schema
    MLflow derives from every row computed once per frame: ~0.35 s of CPU for Telco's 5,634
    rows, and the suite logs its one session frame dozens of times. The dataset logged is the
    same (tests/unit/test_mlflow_models.py compares them) as long as a frame is not changed in
    place once logged (none is: the tests copy a frame before they change it)."""
    import mlflow.data

    kept = _DESCRIBED.get(id(train))
    if kept is None or kept[0] is not train:
        fresh = mlflow.data.from_pandas(train, name=name, targets=label)
        kept = _DESCRIBED[id(train)] = (train, fresh.digest, fresh.schema)
    dataset = mlflow.data.from_pandas(train, name=name, targets=label, digest=kept[1])
    dataset.__dict__["schema"] = kept[2]  # PandasDataset.schema is a functools.cached_property
    return dataset


def log_and_register(
    tracking_uri: str,
    name: str,
    *logged: Any,
    description: str | None = None,
    client: MlflowClient | None = None,
    **options: Any,
) -> str:
    """``log_churn_model(tracking_uri, name, *logged, **options)`` (the estimator, its training
    frame), then register it; the new version's number.

    The version is created with ``create_model_version`` (not ``registered_model_name=``) so
    the author's description is there from the start."""
    info = log_churn_model(tracking_uri, name, *logged, **options)
    client = client or MlflowClient(tracking_uri=tracking_uri)
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(
        name, info.model_uri, info.run_id, description=description, model_id=info.model_id
    )
    return str(version.version)


def version_with_alias(client: Any, name: str, alias: str = "champion") -> str | None:
    """The version an alias points at, or None while it points nowhere (or the model is new)."""
    try:
        return client.get_model_version_by_alias(name, alias).version
    except Exception:
        return None


WEAK_COLUMNS = ["tenure", "MonthlyCharges", "Churn"]  # a model any full one beats


def weak_classifier(train: pd.DataFrame) -> Any:
    """A churn classifier on tenure and charges only: the champion a full model beats."""
    from mlops_hooks.shared.domain import churn_data

    return churn_data.train_classifier(train[WEAK_COLUMNS])


def policy_with_holdout(folder: Any, text: str, holdout: Any) -> str:
    """``text`` with its HOLDOUT placeholder filled, written as folder/mlops.yml; its path."""
    path = folder / "mlops.yml"
    path.write_text(text.replace("HOLDOUT", str(holdout)))
    return str(path)
