"""Models judged on live data: which arm a row is served by, labels joined with predictions,
and live metrics per version per day (pure: pandas and numpy, no engine).

- ``assign_arms``: a ``split`` deployment's A/B arm of each row, from a hash of its
  ``assign_by`` id, so a customer stays in one arm across runs and engines (the batch job calls
  this same function inside Spark).
- ``join_labels``: true outcomes, known later, joined with the predictions by id (and score
  date when the labels carry one); duplicate, unknown-id, late labels and unlabelled
  predictions are counted, never dropped silently.
- ``live_metrics``: the policy's metrics per score date and version on the labelled rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.errors import MlopsHooksError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_hooks.shared.domain.scoring import Scored

BUCKETS = 10_000  # a share is resolved to 0.01 %


class LiveError(MlopsHooksError, ValueError):
    """The live data cannot be used as given; the message says why."""


def arm_bucket(key: str, *, salt: str) -> int:
    """A stable bucket in [0, BUCKETS) for ``key``: SHA-256, so every engine and every Python
    (no PYTHONHASHSEED) agrees. ``salt`` (the model's name) keeps two models' splits apart."""
    digest = hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign_arms(ids: Iterable[object], split: dict[str, int], *, salt: str) -> list[str]:
    """Each id's arm: the arms' percentages laid end to end over the buckets, in the order
    given (``{"champion": 90, "challenger": 10}``: buckets 0-8999 champion)."""
    if sum(split.values()) != 100 or any(share < 0 for share in split.values()):
        raise LiveError(f"a split's shares must be percentages adding up to 100: {split}")
    bounds, edge = [], 0
    for arm, share in split.items():
        edge += share * BUCKETS // 100
        bounds.append((edge, arm))
    out = []
    for key in ids:
        bucket = arm_bucket(str(key), salt=salt)
        out.append(next(arm for limit, arm in bounds if bucket < limit))
    return out


@dataclass
class LabelJoin:
    """Predictions with their labels, and what could not be matched (counted, reported)."""

    joined: pd.DataFrame  # the prediction rows (long: one per version) with ``label``
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['labelled']:,} of {c['predictions']:,} predictions labelled; "
            f"{c['unlabelled']:,} without a label yet, {c['duplicate_labels']:,} duplicate "
            f"labels (the latest kept), {c['unknown_ids']:,} labels for ids never scored, "
            f"{c['late_labels']:,} late"
        )


def join_labels(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    id_column: str,
    label_column: str,
    expected_within_days: int = 7,
) -> LabelJoin:
    """Join labels with predictions (long format: ``id_column``, ``score_date``, ``version``,
    ``prediction`` [, ``score``]).

    Labels carry ``id_column``, ``label_column`` and ``landed_at``, and ``score_date`` when
    the outcome belongs to one scoring day (else it labels every prediction of the id). Two
    labels for the same key: the one that landed last wins, the other is a duplicate. A label
    is late when it landed more than ``expected_within_days`` after the score date; it is
    joined all the same."""
    import numpy as np
    import pandas as pd

    for column in (id_column, label_column, "landed_at"):
        if column not in labels.columns:
            raise LiveError(f"the labels have no {column!r} column")
    by_day = "score_date" in labels.columns
    # Everything is joined on integer keys with numpy (the ids factorized once over both
    # sides, the days as day numbers; a key is id * DAYS + day): a pandas merge hashed the id
    # strings again and copied the million-row frame twice over.
    codes, _ = pd.factorize(
        pd.concat([predictions[id_column], labels[id_column]], ignore_index=True).astype(str)
    )
    scored_id, given_id = codes[: len(predictions)], codes[len(predictions) :]
    scored_day = _day_numbers(predictions["score_date"])
    scored_pair = scored_id.astype(np.int64) * _DAYS + scored_day
    if by_day:
        given_key = given_id.astype(np.int64) * _DAYS + _day_numbers(labels["score_date"])
        scored_key = scored_pair
    else:
        given_key, scored_key = given_id.astype(np.int64), scored_id.astype(np.int64)
    landed = pd.to_datetime(labels["landed_at"], utc=True).to_numpy(dtype="datetime64[ns]")
    # the latest label of each key: the first of each key in landing order, reversed
    newest_first = np.argsort(landed, kind="stable")[::-1]
    keys, first = np.unique(given_key[newest_first], return_index=True)
    latest = newest_first[first]  # a label row per key, in the order of ``keys``
    duplicates = len(labels) - len(keys)

    none = len(labels)  # the row past the end: no label (None, landed NaT)
    row = np.full(len(scored_key), none)
    if len(keys):
        at = np.minimum(np.searchsorted(keys, scored_key), len(keys) - 1)
        found = keys[at] == scored_key
        row[found] = latest[at[found]]
    matched = np.zeros(len(keys), dtype=bool)  # the keys some prediction has
    if len(keys):
        matched[at[found]] = True
    unknown = int(len(keys) - np.count_nonzero(matched))
    label = np.append(labels[label_column].to_numpy(dtype=object), None)[row]
    has_label = pd.notna(label)
    landed_at = np.append(landed, np.datetime64("NaT", "ns"))[row]
    late = has_label & (
        landed_at.astype("datetime64[D]").astype(np.int64) > scored_day + expected_within_days
    )

    pairs, pair_of = np.unique(scored_pair, return_inverse=True)
    counts = {
        "predictions": len(pairs),
        "labelled": _pairs_with(pair_of, has_label, len(pairs)),
        "unlabelled": _pairs_with(pair_of, ~has_label, len(pairs)),
        "duplicate_labels": duplicates,
        "unknown_ids": unknown,
        "late_labels": _pairs_with(pair_of, late, len(pairs)),
    }
    joined = predictions.copy(deep=False)  # the caller's frame keeps its columns
    joined["label"] = label
    joined["landed_at"] = pd.DatetimeIndex(landed_at).tz_localize("UTC")
    # ``score_day`` (days since 1970): grouping on it is cheaper than on date objects
    joined["score_day"] = scored_day
    return LabelJoin(joined, counts)


_DAYS = 1_000_000  # day numbers stay below this (year 4707) in an id * _DAYS + day key


def _pairs_with(pair_of: np.ndarray, flag: np.ndarray, pairs: int) -> int:
    """How many (id, day) pairs have at least one row where ``flag`` holds."""
    import numpy as np

    return int(np.count_nonzero(np.bincount(pair_of[flag], minlength=pairs)))


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Dates (date objects, strings or timestamps) as days since 1970-01-01."""
    import numpy as np
    import pandas as pd

    return pd.to_datetime(values).to_numpy(dtype="datetime64[D]").astype(np.int64)


def live_metrics(
    joined: pd.DataFrame,
    metrics: list[str],
    *,
    positive: Any,
) -> pd.DataFrame:
    """Per score date and version: rows scored, rows labelled, and each metric on the
    labelled rows (NaN where it cannot be computed: one class only, no scores)."""
    import numpy as np
    import pandas as pd

    # every column as a numpy array once; the groups are index arrays into them (comparing
    # strings per group cost more than the metrics themselves)
    labelled_all = joined["label"].notna().to_numpy()
    truth_all = joined["label"].astype(str).to_numpy() == str(positive)
    predicted_all = joined["prediction"].astype(str).to_numpy() == str(positive)
    scores_all = joined["score"].to_numpy(dtype=float) if "score" in joined else None
    served_all = joined["served"].to_numpy(dtype=bool) if "served" in joined else None
    arm_all = joined["arm"].to_numpy() if "arm" in joined else None
    out = []
    by = "score_day" if "score_day" in joined else "score_date"
    days = joined["score_date"].to_numpy()
    groups = joined.groupby([by, "version"], sort=True).indices
    for (_, version), where in sorted(groups.items()):
        day = days[where[0]]
        mine = where[labelled_all[where]]
        arms = set(arm_all[where]) - {"shadow"} if arm_all is not None else {"champion"}
        row: dict[str, Any] = {
            "score_date": day,
            "version": str(version),
            "arm": ",".join(sorted(arms)) or "shadow",
            "rows": len(where),
            "served_rows": int(served_all[where].sum()) if served_all is not None else len(where),
            "labelled_rows": len(mine),
        }
        scores = None if scores_all is None else scores_all[mine]
        if scores is not None and np.isnan(scores).any():
            scores = None
        for name in metrics:
            row[name] = _metric(name, truth_all[mine], predicted_all[mine], scores)
        out.append(row)
    columns = ["score_date", "version", "arm", "rows", "served_rows", "labelled_rows", *metrics]
    return pd.DataFrame(out, columns=columns)


def newest_live_metrics(rows: pd.DataFrame) -> pd.DataFrame:
    """The live_metrics rows in force: the newest computation of each score date and version
    (late labels recompute a day; the older rows are kept as history)."""
    newest = rows.sort_values("computed_at", kind="stable")
    return newest.drop_duplicates(["score_date", "version"], keep="last")


def _metric(name: str, y_true: Any, y_pred: Any, scores: Any) -> float:
    """One metric on all the rows: the comparison's vectorised kernels with every row drawn
    once (the same numbers as scikit-learn, without its per-call validation: a tenth of the
    time at 100,000 rows); NaN where it cannot be computed (one class only, no scores)."""
    import numpy as np

    from mlops_hooks.shared.domain.comparison import metric_bootstrap
    from mlops_hooks.shared.domain.metrics import NEEDS_SCORES, MetricUnavailable, metric_value

    if len(y_true) == 0 or (name in NEEDS_SCORES and scores is None):
        return float("nan")
    if name == "roc_auc" and len(np.unique(y_true)) < 2:
        return float("nan")
    try:
        every_row = np.arange(len(y_true), dtype=np.int32)[None, :]
        return float(metric_bootstrap(name, y_true, y_pred, scores, every_row)[0])
    except MetricUnavailable:
        try:
            return metric_value(name, y_true, y_pred, scores)
        except MetricUnavailable:
            return float("nan")


# --- batch inference beside the champion: shadow and split ------------------------------------

# what one version's model gives for a batch: its predictions, and P(positive) when it has them
Scorer = Callable[["pd.DataFrame"], tuple[Any, Any]]


@dataclass(frozen=True)
class ScoringPlan:
    """Which versions score every row, and which one's prediction is served."""

    mode: str  # single, shadow, split
    champion: str  # the champion's version
    versions: tuple[str, ...]  # every version scored, the champion first
    arms: dict[str, str] = field(default_factory=dict)  # split: arm -> version, in share order
    split: dict[str, int] = field(default_factory=dict)  # split: arm -> percent
    assign_by: str | None = None
    salt: str = ""


def plan_scoring(
    mode: str,
    *,
    model: str,
    champion: str,
    resolved: dict[str, str | None],
    split: dict[str, int] | None = None,
    assign_by: str | None = None,
) -> tuple[ScoringPlan, list[str]]:
    """Pure: the plan, and notes on what could not be followed. ``resolved`` maps each listed
    challenger (an alias or a version number) to its version, or None when the alias points
    nowhere: that challenger is left out, and in a split its share is served by the
    champion."""
    notes = [f"{name!r} points at no version: not scored" for name, v in resolved.items() if not v]
    found = {name: v for name, v in resolved.items() if v and v != champion}
    versions = (champion, *dict.fromkeys(found.values()))
    if mode != "split":
        return ScoringPlan(mode, champion, versions if mode == "shadow" else (champion,)), notes
    shares: dict[str, int] = {}
    arms: dict[str, str] = {}
    for arm, share in (split or {}).items():
        version = champion if arm == "champion" else found.get(arm)
        if version is None:
            notes.append(f"split arm {arm!r} ({share} %) is served by the champion")
            version, arm = champion, "champion"
        shares[arm] = shares.get(arm, 0) + share
        arms[arm] = version
    plan = ScoringPlan("split", champion, versions, arms, shares, assign_by, salt=model)
    return plan, notes


def flat_columns(version: str) -> tuple[str, str]:
    """The prediction and score columns of one version when ``score_frame`` writes them flat
    (the Spark job builds its maps from them in Arrow, which is faster than Python dicts)."""
    return f"_prediction_{version}", f"_score_{version}"


def as_text(values: Any) -> np.ndarray:
    """``values`` as an object array of str: not a fixed-width string array, where "Yes"
    written over "No" would become "Ye". An object array of str already (a classifier's
    classes, picked per row) is kept as it is rather than converted row by row twice (75 ms
    of every 500,000 rows)."""
    import numpy as np
    import pandas as pd

    array = np.asarray(values)
    if array.dtype == object and pd.api.types.infer_dtype(array, skipna=False) == "string":
        return array
    return array.astype(str).astype(object)


def scored_columns(
    frame: pd.DataFrame, scorers: dict[str, Scorer], plan: ScoringPlan
) -> dict[str, np.ndarray]:
    """The columns scoring adds to ``frame``: the served ``prediction``, ``model_version`` and
    ``arm`` per row, and each version's flat prediction and score (NaN where it gives none).
    The frame itself is not copied: the Spark job hands its input columns back as they came."""
    import numpy as np

    predicted: dict[str, np.ndarray] = {}
    scored: dict[str, np.ndarray | None] = {}
    for version in plan.versions:
        predictions, scores = scorers[version](frame)
        predicted[version] = as_text(predictions)
        scored[version] = None if scores is None else np.asarray(scores, dtype=float)
    if plan.mode == "split":
        arm = np.asarray(assign_arms(frame[plan.assign_by], plan.split, salt=plan.salt))
        served = np.asarray([plan.arms[a] for a in arm])
    else:
        arm = np.full(len(frame), "champion")
        served = np.full(len(frame), plan.champion)
    prediction = predicted[plan.champion].copy()
    for version in plan.versions[1:]:
        mine = served == version
        prediction[mine] = predicted[version][mine]
    added = {"prediction": prediction, "model_version": served, "arm": arm}
    for version in plan.versions:
        prediction_column, score_column = flat_columns(version)
        added[prediction_column] = predicted[version]
        score = scored[version]
        added[score_column] = score if score is not None else np.full(len(frame), np.nan)
    return added


def score_frame(
    frame: pd.DataFrame, scorers: dict[str, Scorer], plan: ScoringPlan, *, as_maps: bool = True
) -> pd.DataFrame:
    """Every version of the plan scores ``frame`` once (each scorer takes its model's input
    columns); the served prediction and
    version per row (split: its arm's), every version's prediction and score beside it.
    The same columns (``scored_columns``) are computed in-process and inside Spark, so both
    engines serve and record the same."""
    import numpy as np

    added = scored_columns(frame, scorers, plan)
    out = frame.copy()
    for name in ("prediction", "model_version", "arm"):
        out[name] = added[name]
    versions = list(plan.versions)
    if not as_maps:
        for version in versions:
            for column in flat_columns(version):
                out[column] = added[column]
        return out
    predicted = {v: added[flat_columns(v)[0]] for v in versions}
    scored = {v: added[flat_columns(v)[1]] for v in versions}
    # one comprehension over zipped columns: the per-row maps cost a fraction of the models
    out["predictions"] = [
        dict(zip(versions, row, strict=True))
        for row in zip(*(predicted[v] for v in versions), strict=True)
    ]
    with_scores = [v for v in versions if not np.isnan(scored[v]).all()]
    out["scores"] = (
        [
            dict(zip(with_scores, row, strict=True))
            for row in zip(*(scored[v].tolist() for v in with_scores), strict=True)
        ]
        if with_scores
        else [{}] * len(frame)
    )
    return out


def long_predictions(scored: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """The wide scored rows (``predictions`` and ``scores`` maps) as one row per version:
    what labels are joined with. ``served`` says whether the row got this version's
    prediction; ``arm`` is the row's arm for the served version and "shadow" for the others.
    Rows scored before deployments (no maps) count for their served version."""
    import pandas as pd

    frame = scored.copy()
    if "predictions" not in frame:
        frame["predictions"] = None
    if "scores" not in frame:
        frame["scores"] = None
    if "arm" not in frame:
        frame["arm"] = "champion"
    rows = []
    wanted = [
        id_column,
        "score_date",
        "model_version",
        "arm",
        "prediction",
        "predictions",
        "scores",
    ]
    for key, day, served, arm, prediction, predictions, scores in frame[wanted].itertuples(
        index=False
    ):
        by_version = dict(predictions) if _is_map(predictions) else {served: prediction}
        by_score = dict(scores) if _is_map(scores) else {}
        for version, predicted in by_version.items():
            mine = version == served
            rows.append(
                (
                    key,
                    day,
                    version,
                    predicted,
                    by_score.get(version),
                    mine,
                    arm if mine else "shadow",
                )
            )
    columns = [id_column, "score_date", "version", "prediction", "score", "served", "arm"]
    return pd.DataFrame(rows, columns=columns)


def _is_map(value: object) -> bool:
    """A map column's value as delta-rs or Spark gives it (a dict, or a list of pairs)."""
    return isinstance(value, dict) or (hasattr(value, "__len__") and not isinstance(value, str))


# --- concept drift: the champion's live performance -----------------------------------------


@dataclass(frozen=True)
class Degradation:
    """The champion's live metric broke its rule on ``violated`` of the ``days`` checked."""

    metric: str
    version: str
    days: list[dict[str, Any]]  # score_date, value, labelled_rows, violated
    violated: int
    limit: float  # the value below which a day violates (above, for a metric to minimize)
    rule: str

    def summary(self) -> str:
        return (
            f"live {self.metric} of v{self.version} broke {self.rule} on {self.violated} of "
            f"the last {len(self.days)} labelled days"
        )


def degradation(
    live: pd.DataFrame,
    *,
    version: str,
    metric: str,
    floor: float | None,
    allowance: float | None,
    baseline: float | None,
    violations: int,
    window: int,
    min_labelled_rows: int,
) -> Degradation | None:
    """Pure: the champion ``version``'s degradation on the last ``window`` days that have at
    least ``min_labelled_rows`` labels, if ``violations`` of them break the rule (below
    ``floor``, or worse than ``baseline`` by more than ``allowance``); else None."""
    from mlops_hooks.shared.domain.metrics import LOWER_IS_BETTER

    lower = metric in LOWER_IS_BETTER
    limits, rules = [], []
    if floor is not None:
        limits.append(floor)
        rules.append(f"its {'ceiling' if lower else 'floor'} {floor:g}")
    if allowance is not None and baseline is not None:
        limits.append(baseline + allowance if lower else baseline - allowance)
        rules.append(f"its holdout value {baseline:.4f} {'+' if lower else '-'} {allowance:g}")
    if not limits or metric not in live.columns:
        return None
    limit = min(limits) if lower else max(limits)  # the stricter rule decides
    mine = live[(live["version"].astype(str) == str(version))]
    mine = mine[mine["labelled_rows"] >= min_labelled_rows].dropna(subset=[metric])
    last = mine.sort_values("score_date").tail(window)
    if len(last) < violations:
        return None
    days = [
        {
            "score_date": str(r["score_date"]),
            "value": float(r[metric]),
            "labelled_rows": int(r["labelled_rows"]),
            "violated": bool(r[metric] > limit if lower else r[metric] < limit),
        }
        for r in last.to_dict(orient="records")
    ]
    violated = sum(d["violated"] for d in days)
    if violated < violations:
        return None
    return Degradation(metric, str(version), days, violated, limit, " or ".join(rules))


# --- promotion on live evidence -----------------------------------------------------------


@dataclass(frozen=True)
class LiveEvidence:
    """Both versions on labelled live rows, as the comparison takes them."""

    champion: Scored
    challenger: Scored
    paired: bool  # shadow: the same rows; split: each arm's own served rows
    rows: int
    first: str  # score dates covered
    last: str

    def describe(self) -> str:
        how = (
            "the rows both versions scored (paired bootstrap: shadow predictions on the same "
            "customers)"
            if self.paired
            else "each version's own served rows (unpaired bootstrap: a split's arms scored "
            "different customers, so rows cannot be paired)"
        )
        return f"live: {self.rows:,} labelled rows, {self.first} to {self.last}, on {how}"


def live_evidence(
    joined: pd.DataFrame,
    *,
    id_column: str,
    champion: str,
    challenger: str,
    positive: Any,
    paired: bool,
) -> LiveEvidence | None:
    """The two versions' labelled rows: in shadow mode the rows both scored, aligned by id
    and score date; in a split each version's served rows. None when either has none."""
    import numpy as np

    from mlops_hooks.shared.domain.scoring import Scored

    labelled = joined[joined["label"].notna()]
    mine = labelled[labelled["version"].astype(str) == str(champion)]
    theirs = labelled[labelled["version"].astype(str) == str(challenger)]
    if not paired:
        mine, theirs = mine[mine["served"]], theirs[theirs["served"]]
    else:
        keys = [id_column, "score_date"]
        both = mine[keys].merge(theirs[keys], on=keys)
        mine = mine.merge(both, on=keys).sort_values(keys, kind="stable")
        theirs = theirs.merge(both, on=keys).sort_values(keys, kind="stable")
    if mine.empty or theirs.empty:
        return None

    def scored(rows: pd.DataFrame) -> Scored:
        scores = rows["score"].to_numpy(dtype=float) if "score" in rows else None
        if scores is not None and np.isnan(scores).any():
            scores = None
        return Scored(
            truth=(rows["label"].astype(str) == str(positive)).to_numpy(),
            predicted=(rows["prediction"].astype(str) == str(positive)).to_numpy(),
            scores=scores,
            classifier=True,
            positive=positive,
        )

    days = sorted(str(d) for d in labelled["score_date"].unique())
    rows = len(theirs) if paired else len(mine) + len(theirs)
    return LiveEvidence(scored(mine), scored(theirs), paired, rows, days[0], days[-1])
