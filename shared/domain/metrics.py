"""Model metrics by the policy's names, on arrays (scikit-learn does the arithmetic).

Used where ``mlflow.models.evaluate`` does not fit: per-slice metrics (one evaluate run per
slice value would take seconds each), models whose probabilities only a generic pyfunc gives,
and the comparison issue's bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops_hooks.shared.domain.errors import MlopsHooksError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the catalogue: which way is better, what it needs, which models it fits."""

    name: str
    direction: Literal["maximize", "minimize"]
    needs_probabilities: bool
    task: Literal["classifier", "regressor"]


# The metric catalogue: the one list policy, validation, comparison and reports use.
CATALOGUE: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("roc_auc", "maximize", True, "classifier"),
        MetricSpec("f1", "maximize", False, "classifier"),
        MetricSpec("accuracy", "maximize", False, "classifier"),
        MetricSpec("precision", "maximize", False, "classifier"),
        MetricSpec("recall", "maximize", False, "classifier"),
        MetricSpec("log_loss", "minimize", True, "classifier"),
        MetricSpec("rmse", "minimize", False, "regressor"),
        MetricSpec("mae", "minimize", False, "regressor"),
        MetricSpec("r2", "maximize", False, "regressor"),
    )
}
CLASSIFIER_METRICS = tuple(n for n, s in CATALOGUE.items() if s.task == "classifier")
REGRESSOR_METRICS = tuple(n for n, s in CATALOGUE.items() if s.task == "regressor")
NEEDS_SCORES = frozenset(n for n, s in CATALOGUE.items() if s.needs_probabilities)
LOWER_IS_BETTER = frozenset(n for n, s in CATALOGUE.items() if s.direction == "minimize")


class MetricUnavailable(MlopsHooksError, ValueError):
    """The metric cannot be computed here; the message says why in a few words."""


def metric_value(
    name: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray | None = None,
) -> float:
    """One metric. Classifier inputs are booleans (label == positive) and P(positive) scores."""
    import numpy as np
    from sklearn import metrics as m

    if len(y_true) == 0:
        raise MetricUnavailable("no rows")
    if name in NEEDS_SCORES:
        if scores is None:
            raise MetricUnavailable("the model gives no probabilities")
        if name == "roc_auc":
            if len(np.unique(y_true)) < 2:
                raise MetricUnavailable("only one class present")
            return float(m.roc_auc_score(y_true, scores))
        return float(m.log_loss(y_true, np.clip(scores, 1e-15, 1 - 1e-15), labels=[False, True]))
    functions: dict[str, Any] = {
        "accuracy": m.accuracy_score,
        "f1": lambda t, p: m.f1_score(t, p, zero_division=0),
        "precision": lambda t, p: m.precision_score(t, p, zero_division=0),
        "recall": lambda t, p: m.recall_score(t, p, zero_division=0),
        "rmse": lambda t, p: np.sqrt(m.mean_squared_error(t, p)),
        "mae": m.mean_absolute_error,
        "r2": m.r2_score,
    }
    return float(functions[name](y_true, y_pred))


def passes(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def bound_text(low: float | None, high: float | None) -> str:
    parts = [f"{sign} {value:g}" for sign, value in (("≥", low), ("≤", high)) if value is not None]
    return " and ".join(parts) or "—"
