"""The validation suite: the checks a policy picks, run against one model version.

Each check returns passed / failed / skipped with a one-line reason and its numbers. Checks
talk to the model through the ``LoadedModel`` port and to data as pandas, so they run the
same against MLflow OSS, Databricks, or the in-memory fakes of the unit tests. The model is
loaded and the holdout read at most once, and only when a selected check needs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from mlops_hooks.shared.domain.errors import MlopsHooksError
from mlops_hooks.shared.domain.metrics import (
    CLASSIFIER_METRICS,
    LOWER_IS_BETTER,
    NEEDS_SCORES,
    MetricUnavailable,
    bound_text,
    metric_value,
    passes,
)
from mlops_hooks.shared.domain.policy import Checks, Holdout
from mlops_hooks.shared.domain.scoring import Labels, Scored, as_array

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_hooks.shared.ports.registry import Evaluation, Lineage, LoadedModel, ModelVersion

Status = Literal["passed", "failed", "skipped"]
Number = float | int | str


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    reason: str
    numbers: dict[str, Number] = field(default_factory=dict)
    threshold: str = ""
    seconds: float = 0.0


@dataclass
class Validation:
    """The outcome of a suite run."""

    model: str
    version: str
    checks: list[CheckResult]
    data: str = ""  # which data was used, for the report
    evaluation: Evaluation | None = None
    # MLflow's evaluation run (metrics and plots), written after the verdict: it takes seconds
    # of plotting that the verdict does not need; ``evaluate_later()`` writes it
    evaluate_later: Callable[[], Evaluation | None] | None = None
    seconds: float = 0.0
    # the checks could not run for a reason that is not the model's (the configured holdout
    # cannot be read): the verdict is "error", never "failed"
    config_error: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "failed"]

    @property
    def verdict(self) -> Literal["passed", "failed", "error"]:
        if self.config_error:
            return "error"
        return "failed" if self.failed else "passed"


class _Unavailable(MlopsHooksError):
    """A prerequisite (model, holdout, label) is missing; the check cannot run."""


class Context:
    """What checks share: the version, the model and holdout (each loaded once, lazily)."""

    def __init__(
        self,
        version: ModelVersion,
        *,
        load_model: Callable[[], LoadedModel],
        holdout: Holdout,
        read_holdout: Callable[[], pd.DataFrame] | None,
        lineage: Callable[[str], Lineage],
        selected: list[str],
    ) -> None:
        self.version = version
        self._load_model = load_model
        self.holdout = holdout
        self._read_holdout = read_holdout
        self.lineage = lineage
        self.selected = selected
        self.load_error: str | None = None
        self.holdout_error: str | None = None  # a configured holdout that cannot be read
        self.evaluate_later: Callable[[], Evaluation | None] | None = None

    # --- the model ------------------------------------------------------------------------

    @cached_property
    def _model(self) -> LoadedModel | None:
        try:
            return self._load_model()
        except Exception as exc:
            self.load_error = _one_line(exc)
            return None

    @property
    def model(self) -> LoadedModel:
        model = self._model
        if model is None:
            # "loads" carries the failure; the others say why they could not run
            raise _Unavailable(f"the model did not load: {self.load_error}")
        return model

    # --- the holdout ----------------------------------------------------------------------

    @cached_property
    def _frame(self) -> pd.DataFrame | str:
        if self._read_holdout is None or not self.holdout.uri:
            return "no holdout configured (holdout.uri)"
        try:
            return self._read_holdout()
        except Exception as exc:
            self.holdout_error = f"holdout unreadable: {_one_line(exc)}"
            return self.holdout_error

    @property
    def has_holdout(self) -> bool:
        return not isinstance(self._frame, str)

    @property
    def frame(self) -> pd.DataFrame:
        if isinstance(self._frame, str):
            raise _Unavailable(self._frame)
        return self._frame

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.holdout.label], errors="ignore")

    @cached_property
    def labelled(self) -> Labels:
        frame = self.frame
        label = self.holdout.label
        if label not in frame.columns:
            raise _Unavailable(
                f"label column {label!r} is not in the holdout "
                f"(columns: {', '.join(map(str, frame.columns[:12]))})"
            )
        return Labels.of(frame[label], self.holdout)

    @cached_property
    def predictions(self) -> np.ndarray:
        return as_array(self.model.predict(self.features))

    @cached_property
    def scores(self) -> np.ndarray | None:
        labels = self.labelled
        if not labels.classifier or labels.positive is None:
            return None
        return self.model.positive_scores(self.features, labels.positive)

    @cached_property
    def scored(self) -> Scored:
        """Truth and predictions as the metrics take them, computed once for all checks."""
        labels = self.labelled
        return Scored(
            labels.truth(),
            labels.predicted(self.predictions),
            self.scores,
            labels.classifier,
            labels.positive,
        )

    def sample_batch(self, rows: int) -> pd.DataFrame:
        """``rows`` rows of model input: resampled from the holdout, else the input example."""
        source = self.features if self.has_holdout else self.model.input_example()
        if source is None or len(source) == 0:
            raise _Unavailable("no holdout and no input example to score")
        return source.sample(n=rows, replace=True, random_state=0).reset_index(drop=True)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")[:300]


# --- the checks -----------------------------------------------------------------------------


def check_loads(ctx: Context, _: Any) -> CheckResult:
    model = ctx._model
    if model is None:
        return CheckResult("loads", "failed", f"cannot load: {ctx.load_error}")
    flavors = ", ".join(model.flavors) or "pyfunc"
    return CheckResult(
        "loads", "passed", f"loads as pyfunc ({flavors})", {"load_s": round(model.load_seconds, 2)}
    )


# MLflow data type -> the pandas dtype kinds a holdout column may have for it
_COMPATIBLE = {
    "double": "fiu",
    "float": "fiu",
    "long": "iu",
    "integer": "iu",
    "boolean": "b",
    "string": "OSUT",
    "binary": "OS",
    "datetime": "M",
}


def check_signature(ctx: Context, _: Any) -> CheckResult:
    schema = ctx.model.input_schema()
    if schema is None:
        return CheckResult("signature", "failed", "the model was logged without a signature")
    numbers: dict[str, Number] = {"inputs": len(schema)}
    if not ctx.has_holdout:
        return CheckResult(
            "signature", "passed", f"present ({len(schema)} inputs); no holdout to match", numbers
        )
    features = ctx.features
    missing = [c.name for c in schema if c.required and c.name not in features.columns]
    wrong = []
    for column in schema:
        if column.name in features.columns:
            kinds = _COMPATIBLE.get(column.type.lower())
            kind = features[column.name].dtype.kind
            if kinds is not None and kind not in kinds:
                wrong.append(f"{column.name} ({features[column.name].dtype}, wants {column.type})")
    numbers.update(missing=len(missing), type_mismatches=len(wrong))
    if missing or wrong:
        parts = ([f"missing in holdout: {', '.join(missing[:8])}"] if missing else []) + (
            [f"type mismatch: {', '.join(wrong[:8])}"] if wrong else []
        )
        return CheckResult("signature", "failed", "; ".join(parts), numbers)
    return CheckResult(
        "signature", "passed", f"{len(schema)} inputs match the holdout's columns", numbers
    )


def check_input_example(ctx: Context, _: Any) -> CheckResult:
    example = ctx.model.input_example()
    if example is None:
        return CheckResult("input_example", "failed", "the model was logged without one")
    try:
        predictions = as_array(ctx.model.predict(example))
    except Exception as exc:
        return CheckResult("input_example", "failed", f"does not predict: {_one_line(exc)}")
    rows = len(example)
    if len(predictions) != rows:
        return CheckResult(
            "input_example",
            "failed",
            f"{len(predictions)} predictions for {rows} rows",
            {"rows": rows},
        )
    return CheckResult("input_example", "passed", f"predicts {rows} rows", {"rows": rows})


def check_predictions(ctx: Context, _: Any) -> CheckResult:
    import numpy as np

    if ctx.has_holdout:
        predictions, scores, where = ctx.predictions, ctx.scores, "holdout"
    else:
        example = ctx.model.input_example()
        if example is None:
            return CheckResult("predictions", "skipped", "no holdout and no input example")
        predictions, scores, where = as_array(ctx.model.predict(example)), None, "input example"
    numbers: dict[str, Number] = {"rows": len(predictions)}
    problems = []
    if predictions.dtype.kind in "biuf":
        bad = int(np.count_nonzero(~np.isfinite(predictions.astype(float))))
        numbers["non_finite"] = bad
        if bad:
            problems.append(f"{bad} non-finite predictions")
    elif predictions.dtype.kind == "O":
        missing = int(sum(v is None or v != v for v in predictions))  # None or NaN
        numbers["missing"] = missing
        if missing:
            problems.append(f"{missing} missing predictions")
    if scores is not None:
        scores = np.asarray(scores, dtype=float)
        outside = int(np.count_nonzero(~((scores >= 0) & (scores <= 1))))
        numbers["probabilities_outside_0_1"] = outside
        if outside:
            problems.append(f"{outside} probabilities outside [0, 1]")
    numbers["distinct"] = len(np.unique(predictions.astype(str)))
    if problems:
        return CheckResult("predictions", "failed", "; ".join(problems) + f" ({where})", numbers)
    what = "finite" + (", probabilities within [0, 1]" if scores is not None else "")
    return CheckResult("predictions", "passed", f"{what} on the {where}", numbers)


def _own_metrics(ctx: Context, names: list[str]) -> dict[str, float | str]:
    """Each metric's value, or why it cannot be computed."""
    labels = ctx.labelled
    truth, predicted = ctx.scored.truth, ctx.scored.predicted
    out: dict[str, float | str] = {}
    for name in names:
        try:
            if labels.classifier != (name in CLASSIFIER_METRICS):
                kind = "classifier" if labels.classifier else "regressor"
                raise MetricUnavailable(f"not a {kind} metric")
            if labels.classifier and labels.positive is None:
                raise MetricUnavailable("binary classifiers only")
            scores = ctx.scores if name in NEEDS_SCORES else None
            out[name] = metric_value(name, truth, predicted, scores)
        except MetricUnavailable as exc:
            out[name] = str(exc)
    return out


def check_metrics(ctx: Context, params: Any) -> CheckResult:
    thresholds = params.thresholds
    names = list(thresholds) or _default_metrics(ctx)
    labels = ctx.labelled
    if params.evaluator == "mlflow":
        _evaluate_later(ctx, labels)
    values = dict(_own_metrics(ctx, names))
    numbers: dict[str, Number] = {}
    failures, unavailable = [], []
    for name in names:
        value = values[name]
        if isinstance(value, str):
            unavailable.append(f"{name}: {value}")
            continue
        numbers[name] = round(value, 4)
        bound = thresholds.get(name)
        if bound is not None and not passes(value, bound.min, bound.max):
            failures.append(f"{name} {value:.4f} (needs {bound_text(bound.min, bound.max)})")
    threshold = ", ".join(
        f"{name} {bound_text(bound.min, bound.max)}" for name, bound in thresholds.items()
    )
    source = "scikit-learn" + (
        "; mlflow.models.evaluate's run follows" if ctx.evaluate_later is not None else ""
    )
    if failures or (unavailable and thresholds):
        return CheckResult(
            "metrics", "failed", "; ".join(failures + unavailable), numbers, threshold
        )
    return CheckResult(
        "metrics",
        "passed",
        f"{len(numbers)} metrics within thresholds ({source})",
        numbers,
        threshold,
    )


def _default_metrics(ctx: Context) -> list[str]:
    return ["roc_auc", "f1", "accuracy"] if ctx.labelled.classifier else ["rmse", "mae", "r2"]


def _evaluate_later(ctx: Context, labels: Labels) -> None:
    """MLflow's evaluator where it fits (predictions in the label's own vocabulary), kept for
    after the verdict: the verdict's metrics are the same formulas, computed here at once."""
    import numpy as np

    if ctx.evaluate_later is not None or not ctx.model.evaluates:
        return
    predictions = ctx.predictions
    if labels.classifier:
        known = set(map(str, labels.values.dropna().unique()))
        if labels.positive is None or not set(map(str, np.unique(predictions))) <= known:
            return
    model, frame, label = ctx.model, ctx.frame, ctx.holdout.label
    model_type = "classifier" if labels.classifier else "regressor"

    ctx.evaluate_later = lambda: model.evaluate(frame, label, model_type, labels.positive)


def check_slices(ctx: Context, params: Any) -> CheckResult:
    import numpy as np

    truth, predicted = ctx.scored.truth, ctx.scored.predicted
    scores = ctx.scored.scores if params.metric in NEEDS_SCORES else None
    frame = ctx.frame
    lower_is_better = params.metric in LOWER_IS_BETTER
    sign = "≤" if lower_is_better else "≥"
    threshold = f"{params.metric} {sign} {params.min:g} per value (slices ≥ {params.min_rows} rows)"
    failures, judged, small = [], 0, 0
    worst: tuple[float, str] | None = None
    for column in params.columns:
        if column not in frame.columns:
            return CheckResult("slices", "failed", f"column {column!r} is not in the holdout")
        values = frame[column].astype(str).to_numpy()
        for value in np.unique(values):
            rows = values == value
            if rows.sum() < params.min_rows:
                small += 1
                continue
            try:
                score = metric_value(
                    params.metric,
                    truth[rows],
                    predicted[rows],
                    None if scores is None else np.asarray(scores)[rows],
                )
            except MetricUnavailable as exc:
                failures.append(f"{column}={value}: {exc}")
                continue
            judged += 1
            key = -score if lower_is_better else score
            if worst is None or key < worst[0]:
                worst = (key, f"{column}={value}")
            ok = score <= params.min if lower_is_better else score >= params.min
            if not ok:
                failures.append(f"{column}={value} {params.metric} {score:.3f}")
    numbers: dict[str, Number] = {"slices": judged, "too_small": small}
    if worst is not None:
        numbers["worst"] = f"{worst[1]} {abs(worst[0]):.3f}"
    if failures:
        return CheckResult(
            "slices", "failed", "below the floor: " + ", ".join(failures[:6]), numbers, threshold
        )
    return CheckResult("slices", "passed", f"{judged} slices above the floor", numbers, threshold)


def check_latency(ctx: Context, params: Any) -> CheckResult:
    import numpy as np

    batch = ctx.sample_batch(params.batch_rows)
    ctx.model.predict(batch)  # warm-up: first calls pay for lazy imports and caches
    times = []
    for _ in range(params.repeats):
        started = time.perf_counter()
        ctx.model.predict(batch)
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = (float(np.percentile(times, q)) for q in (50, 95))
    numbers: dict[str, Number] = {
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "batch_rows": params.batch_rows,
    }
    threshold = f"p95 ≤ {params.p95_ms:g} ms"
    status: Status = "passed" if p95 <= params.p95_ms else "failed"
    reason = f"p95 {p95:.1f} ms for {params.batch_rows} rows"
    return CheckResult("latency", status, reason, numbers, threshold)


def check_size(ctx: Context, params: Any) -> CheckResult:
    megabytes = ctx.model.size_bytes / 1e6
    status: Status = "passed" if megabytes <= params.max_mb else "failed"
    return CheckResult(
        "size",
        status,
        f"artifacts {megabytes:.2f} MB",
        {"mb": round(megabytes, 2)},
        f"≤ {params.max_mb:g} MB",
    )


def check_tags(ctx: Context, params: Any) -> CheckResult:
    present = ctx.version.tags
    missing = [t for t in params.required if not present.get(t)]
    numbers: dict[str, Number] = {"required": len(params.required), "missing": len(missing)}
    if missing:
        return CheckResult("tags", "failed", f"missing: {', '.join(missing)}", numbers)
    return CheckResult("tags", "passed", "all required tags present", numbers)


def check_lineage(ctx: Context, _: Any) -> CheckResult:
    run_id = ctx.version.run_id
    if not run_id:
        return CheckResult("lineage", "failed", "the version has no source run")
    lineage = ctx.lineage(run_id)
    if not lineage.run_exists:
        return CheckResult("lineage", "failed", f"source run {run_id} does not exist")
    numbers: dict[str, Number] = {
        "params": lineage.params,
        "datasets": len(lineage.datasets),
        "training_datasets": lineage.training_datasets,
    }
    problems = []
    if not lineage.params:
        problems.append("no params logged")
    if not lineage.training_datasets:
        problems.append("no training dataset logged (mlflow.log_input, context 'training')")
    if problems:
        return CheckResult("lineage", "failed", "; ".join(problems), numbers)
    return CheckResult(
        "lineage", "passed", f"run logged params and {', '.join(lineage.datasets[:3])}", numbers
    )


CHECKS: dict[str, Callable[[Context, Any], CheckResult]] = {
    "loads": check_loads,
    "signature": check_signature,
    "input_example": check_input_example,
    "predictions": check_predictions,
    "metrics": check_metrics,
    "slices": check_slices,
    "latency": check_latency,
    "size": check_size,
    "tags": check_tags,
    "lineage": check_lineage,
}
assert list(CHECKS) == list(Checks.model_fields), "every policy check has a function"


def run_checks(checks: Checks, ctx: Context) -> list[CheckResult]:
    """Run the selected checks in the policy's order; an unexpected error fails that check."""
    results = []
    for name in checks.names():
        started = time.perf_counter()
        try:
            result = CHECKS[name](ctx, getattr(checks, name))
        except _Unavailable as exc:
            # a model that does not load is reported once, by "loads" when it runs
            skip = ctx.load_error is not None and "loads" in ctx.selected
            result = CheckResult(name, "skipped" if skip else "failed", str(exc))
        except Exception as exc:
            result = CheckResult(name, "failed", f"error: {_one_line(exc)}")
        results.append(replace(result, seconds=time.perf_counter() - started))
    return results


def validate(
    version: ModelVersion,
    checks: Checks,
    holdout: Holdout,
    *,
    load_model: Callable[[], LoadedModel],
    read_holdout: Callable[[], pd.DataFrame] | None,
    lineage: Callable[[str], Lineage],
) -> Validation:
    started = time.perf_counter()
    ctx = Context(
        version,
        load_model=load_model,
        holdout=holdout,
        read_holdout=read_holdout,
        lineage=lineage,
        selected=checks.names(),
    )
    results = run_checks(checks, ctx)
    return Validation(
        model=version.name,
        version=version.version,
        checks=results,
        data=_describe_data(ctx),
        evaluate_later=ctx.evaluate_later,
        seconds=time.perf_counter() - started,
        config_error=ctx.holdout_error,
    )


def _describe_data(ctx: Context) -> str:
    uri = ctx.holdout.uri
    if not uri:
        return "no holdout configured"
    if "_frame" not in ctx.__dict__:
        return f"holdout `{uri}` (not needed by the selected checks)"
    if not ctx.has_holdout:
        return f"holdout `{uri}`: {ctx._frame}"
    text = f"holdout `{uri}`: {len(ctx.frame):,} rows, label `{ctx.holdout.label}`"
    try:
        labels = ctx.labelled
    except _Unavailable:
        return text
    if not labels.classifier:
        return f"{text} (regressor)"
    positive = f", positive class `{labels.positive}`" if labels.positive is not None else ""
    return f"{text} (classifier{positive})"
