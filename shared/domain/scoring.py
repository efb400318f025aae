"""How a model's predictions meet a holdout's labels: classifier or regressor, the positive
class, 0/1 against "Yes"/"No". Shared by validation and the champion/challenger comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.policy import Holdout

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Labels:
    """The holdout's label, understood: classifier or regressor, and the positive class."""

    values: Any  # pandas Series
    classifier: bool
    positive: Any = None  # binary classifiers only

    @classmethod
    def of(cls, series: Any, holdout: Holdout) -> Labels:
        import pandas as pd

        distinct = sorted(series.dropna().unique().tolist(), key=str)
        if holdout.model_type == "auto":
            is_numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
                series
            )
            classifier = not is_numeric or len(distinct) <= 2
        else:
            classifier = holdout.model_type == "classifier"
        positive = None
        if classifier and holdout.positive_label is not None:
            positive = holdout.positive_label
        elif classifier and len(distinct) == 2:
            positive = max(distinct) if _same_type(distinct) else distinct[-1]
        return cls(series, classifier, positive)

    def truth(self) -> np.ndarray:
        import numpy as np

        if self.classifier:
            return is_positive(self.values.to_numpy(), self.positive)
        return np.asarray(self.values, dtype=float)

    def predicted(self, predictions: np.ndarray) -> np.ndarray:
        import numpy as np

        if not self.classifier:
            return np.asarray(predictions, dtype=float)
        return is_positive(predictions, self.positive)


def _same_type(values: list[Any]) -> bool:
    return len({type(v) for v in values}) == 1


def is_positive(values: np.ndarray, positive: Any) -> np.ndarray:
    """values == positive, tolerating 0/1 predictions against string labels ("Yes"/"No")."""
    import numpy as np

    values = np.asarray(values)
    if values.dtype.kind in "biuf" and not isinstance(positive, int | float | bool):
        return values == 1
    if values.dtype.kind in "OUS" and isinstance(positive, int | float | bool):
        return values.astype(str) == str(positive)
    return values == positive


def as_array(predictions: Any) -> np.ndarray:
    """A 1-D array of predictions (pyfunc may return a list, Series, frame or 2-D array)."""
    import numpy as np

    array = np.asarray(predictions)
    return array.reshape(len(array), -1)[:, 0] if array.ndim > 1 else array


@dataclass(frozen=True)
class Scored:
    """One model on one holdout, as arrays the metrics take."""

    truth: np.ndarray  # bool (label == positive) for classifiers, float for regressors
    predicted: np.ndarray  # bool or float, like truth
    scores: np.ndarray | None  # P(positive), classifiers that give probabilities
    classifier: bool
    positive: Any = None


def score(model: Any, frame: Any, holdout: Holdout) -> Scored:
    """Predict the holdout with a ``LoadedModel``; a missing label column is a KeyError."""
    if holdout.label not in frame.columns:
        raise KeyError(f"label column {holdout.label!r} is not in the holdout")
    labels = Labels.of(frame[holdout.label], holdout)
    features = frame.drop(columns=[holdout.label])
    predictions = as_array(model.predict(features))
    scores = None
    if labels.classifier and labels.positive is not None:
        scores = model.positive_scores(features, labels.positive)
    return Scored(
        labels.truth(), labels.predicted(predictions), scores, labels.classifier, labels.positive
    )
