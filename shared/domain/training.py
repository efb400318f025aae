"""The scikit-learn pipeline the train job fits, chosen by name in the policy's job params.

Columns decide the preprocessing: strings (and booleans) one-hot encoded, numbers scaled. The
label and id columns are never features. Pure pandas / scikit-learn: the train job calls it on
the driver, tests call it directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.errors import PermanentError

if TYPE_CHECKING:
    import pandas as pd

ESTIMATORS = ("logistic_regression", "gradient_boosting", "random_forest")


class TrainingError(PermanentError, ValueError):
    """The data cannot train the pipeline; one readable line."""


def feature_columns(
    frame: pd.DataFrame, label: str, id_columns: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """(categorical, numeric) feature columns: everything but the label and the ids."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    categorical, numeric = [], []
    for column in frame.columns:
        if column == label or column in id_columns or column.startswith("_"):
            continue
        series = frame[column]
        if is_numeric_dtype(series) and not is_bool_dtype(series):
            numeric.append(column)
        else:
            categorical.append(column)
    return categorical, numeric


# What a fitted pipeline holds beyond skops' default trust, passed to mlflow.sklearn.log_model
# (which serializes with skops): SimpleImputer keeps the dtype it was fitted on; the
# gradient_boosting estimator's trees are TreePredictors. The train job built every one of
# them itself, so they are trusted; anything else still fails to load.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


def build_pipeline(
    categorical: list[str],
    numeric: list[str],
    *,
    estimator: str,
    seed: int = 0,
    impute: bool = True,
) -> Any:
    """One-hot + scaling (+ imputing missing values first) feeding the named estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    models = {
        "logistic_regression": lambda: LogisticRegression(max_iter=1000, random_state=seed),
        "gradient_boosting": lambda: HistGradientBoostingClassifier(random_state=seed),
        "random_forest": lambda: RandomForestClassifier(
            n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=-1
        ),
    }
    if estimator not in models:
        raise TrainingError(f"unknown estimator {estimator!r}; use one of {', '.join(models)}")
    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    scale = StandardScaler()
    prepare = ColumnTransformer(
        [
            (
                "categories",
                make_pipeline(SimpleImputer(strategy="most_frequent"), encode)
                if impute
                else encode,
                categorical,
            ),
            ("numbers", make_pipeline(SimpleImputer(), scale) if impute else scale, numeric),
        ]
    )
    return Pipeline([("prepare", prepare), ("model", models[estimator]())])


def fit(
    frame: pd.DataFrame,
    label: str,
    *,
    estimator: str = "logistic_regression",
    id_columns: tuple[str, ...] = (),
    seed: int = 0,
) -> tuple[Any, list[str]]:
    """Fit the pipeline; returns it and the input columns it expects, in order."""
    if label not in frame.columns:
        raise TrainingError(f"label column {label!r} is not in the data")
    if frame[label].nunique() < 2:
        raise TrainingError(f"label column {label!r} has a single value: nothing to learn")
    categorical, numeric = feature_columns(frame, label, id_columns)
    if not categorical and not numeric:
        raise TrainingError("no feature columns besides the label and ids")
    columns = categorical + numeric
    pipeline = build_pipeline(categorical, numeric, estimator=estimator, seed=seed)
    return pipeline.fit(frame[columns], frame[label]), columns
