"""Live data, pure: the split's arms, labels joined with predictions, live metrics."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m

from mlops_hooks.shared.domain.live import (
    LiveError,
    arm_bucket,
    assign_arms,
    join_labels,
    live_metrics,
)


def test_a_split_is_deterministic_and_within_a_point_of_its_shares() -> None:
    ids = [f"{n:07d}-CUST" for n in range(100_000)]
    split = {"champion": 90, "challenger": 10}
    arms = assign_arms(ids, split, salt="churn")
    assert assign_arms(ids, split, salt="churn") == arms  # the next run: the same arms
    assert assign_arms(list(reversed(ids)), split, salt="churn") == list(reversed(arms))
    share = arms.count("challenger") / len(ids)
    assert abs(share - 0.10) <= 0.01, share
    three = assign_arms(ids, {"champion": 50, "challenger": 30, "v7": 20}, salt="churn")
    for arm, wanted in (("champion", 0.5), ("challenger", 0.3), ("v7", 0.2)):
        assert abs(three.count(arm) / len(ids) - wanted) <= 0.01
    # a fixed value: any engine, any Python, any PYTHONHASHSEED gives this bucket
    assert arm_bucket("7590-VHVEG", salt="churn") == arm_bucket("7590-VHVEG", salt="churn")
    assert arm_bucket("7590-VHVEG", salt="churn") != arm_bucket("7590-VHVEG", salt="other")
    with pytest.raises(LiveError, match="adding up to 100"):
        assign_arms(ids[:3], {"champion": 90, "challenger": 20}, salt="churn")


def predictions() -> pd.DataFrame:
    """Three customers scored on 23 Nov by v1 (served) and v2 (shadow), one on 24 Nov."""
    rows = []
    for day, ids in ((date(2026, 11, 23), ["a", "b", "c"]), (date(2026, 11, 24), ["a"])):
        for customer in ids:
            for version, prediction, score in (("1", "Yes", 0.8), ("2", "No", 0.3)):
                rows.append(
                    {
                        "customerID": customer,
                        "score_date": day,
                        "version": version,
                        "prediction": prediction if customer != "c" else "No",
                        "score": score if customer != "c" else 0.1,
                    }
                )
    return pd.DataFrame(rows)


def test_late_missing_duplicate_and_unknown_labels_are_each_counted() -> None:
    labels = pd.DataFrame(
        [
            # a: labelled twice for the 23rd (the later one wins), once for the 24th
            ("a", date(2026, 11, 23), "No", datetime(2026, 11, 24, 8)),
            ("a", date(2026, 11, 23), "Yes", datetime(2026, 11, 25, 8)),
            ("a", date(2026, 11, 24), "Yes", datetime(2026, 11, 25, 9)),
            # b: labelled three weeks later: late, joined all the same
            ("b", date(2026, 11, 23), "No", datetime(2026, 12, 14, 8)),
            # z: never scored
            ("z", date(2026, 11, 23), "Yes", datetime(2026, 11, 24, 8)),
        ],
        columns=["customerID", "score_date", "Churn", "landed_at"],
    )
    joined = join_labels(
        predictions(), labels, id_column="customerID", label_column="Churn", expected_within_days=7
    )
    assert joined.counts == {
        "predictions": 4,  # (a, 23), (b, 23), (c, 23), (a, 24)
        "labelled": 3,
        "unlabelled": 1,  # c: no label yet
        "duplicate_labels": 1,
        "unknown_ids": 1,
        "late_labels": 1,
    }
    a23 = joined.joined[(joined.joined["customerID"] == "a") & (joined.joined["version"] == "1")]
    assert a23.sort_values("score_date")["label"].tolist() == ["Yes", "Yes"]
    assert "1 labels for ids never scored" in joined.summary()


def test_live_metrics_equal_scikit_learns_on_the_joined_rows() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    ids = [f"c{i}" for i in range(n)]
    truth = rng.random(n) < 0.3
    frames = []
    for version, noise in (("1", 0.35), ("2", 0.2)):
        score = np.clip(truth * 0.6 + rng.normal(0.2, noise, n), 0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "customerID": ids,
                    "score_date": date(2026, 11, 23),
                    "version": version,
                    "prediction": np.where(score >= 0.5, "Yes", "No"),
                    "score": score,
                }
            )
        )
    labels = pd.DataFrame(
        {
            "customerID": ids[: n - 100],  # 100 still unlabelled
            "Churn": np.where(truth[: n - 100], "Yes", "No"),
            "landed_at": datetime(2026, 11, 25),
        }
    )
    joined = join_labels(pd.concat(frames), labels, id_column="customerID", label_column="Churn")
    live = live_metrics(joined.joined, ["roc_auc", "accuracy", "f1"], positive="Yes")
    assert live["labelled_rows"].tolist() == [n - 100, n - 100] and live["rows"].tolist() == [n, n]
    for frame, row in zip(frames, live.itertuples(), strict=True):
        kept = frame.iloc[: n - 100]
        y = truth[: n - 100]
        assert row.roc_auc == pytest.approx(m.roc_auc_score(y, kept["score"]), abs=1e-12)
        assert row.accuracy == pytest.approx(m.accuracy_score(y, kept["prediction"] == "Yes"))
        assert row.f1 == pytest.approx(m.f1_score(y, kept["prediction"] == "Yes"))


def test_plans_leave_out_what_points_nowhere_and_serve_its_share_by_the_champion() -> None:
    from mlops_hooks.shared.domain.live import plan_scoring

    shadow, notes = plan_scoring(
        "shadow", model="churn", champion="3", resolved={"challenger": "4", "v9": None, "3": "3"}
    )
    assert shadow.versions == ("3", "4") and notes == ["'v9' points at no version: not scored"]
    split, notes = plan_scoring(
        "split",
        model="churn",
        champion="3",
        resolved={"challenger": None},
        split={"champion": 90, "challenger": 10},
        assign_by="customerID",
    )
    assert split.split == {"champion": 100} and split.arms == {"champion": "3"}
    assert "split arm 'challenger' (10 %) is served by the champion" in notes


def test_one_pass_scores_every_version_and_serves_the_rows_arm() -> None:
    from mlops_hooks.shared.domain.live import long_predictions, plan_scoring, score_frame

    frame = pd.DataFrame({"customerID": [f"c{i}" for i in range(2000)], "x": np.arange(2000)})
    calls: list[str] = []

    def scorer(version: str, label: str):
        def run(batch: pd.DataFrame):
            calls.append(version)
            return np.full(len(batch), label), np.full(len(batch), 0.25)

        return run

    scorers = {"3": scorer("3", "No"), "4": scorer("4", "Yes")}
    plan, _ = plan_scoring(
        "split",
        model="churn",
        champion="3",
        resolved={"challenger": "4"},
        split={"champion": 80, "challenger": 20},
        assign_by="customerID",
    )
    scored = score_frame(frame, scorers, plan)
    assert sorted(calls) == ["3", "4"]  # each model once for the whole batch
    arms = assign_arms(frame["customerID"], {"champion": 80, "challenger": 20}, salt="churn")
    assert scored["arm"].tolist() == arms
    assert scored["model_version"].tolist() == ["3" if a == "champion" else "4" for a in arms]
    assert scored["prediction"].tolist() == ["No" if a == "champion" else "Yes" for a in arms]
    assert all(p == {"3": "No", "4": "Yes"} for p in scored["predictions"])
    scored["score_date"] = date(2026, 11, 23)
    long = long_predictions(scored, "customerID")
    assert len(long) == 4000 and long["served"].sum() == 2000


def live_days(values: list[float], labelled: int = 500) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "score_date": [f"2026-11-{20 + i}" for i in range(len(values))],
            "version": "4",
            "labelled_rows": labelled,
            "roc_auc": values,
        }
    )


def test_concept_drift_is_n_of_the_last_m_labelled_days() -> None:
    from mlops_hooks.shared.domain.live import degradation

    rule = {"metric": "roc_auc", "violations": 2, "window": 3, "min_labelled_rows": 100}
    steady = live_days([0.81, 0.80, 0.82, 0.79, 0.81])
    assert (
        degradation(steady, version="4", floor=0.7, allowance=None, baseline=None, **rule) is None
    )
    one_bad_day = live_days([0.81, 0.80, 0.55, 0.79, 0.81])
    assert (
        degradation(one_bad_day, version="4", floor=0.7, allowance=None, baseline=None, **rule)
        is None
    )
    shifted = live_days([0.81, 0.80, 0.81, 0.62, 0.58])
    found = degradation(shifted, version="4", floor=0.7, allowance=None, baseline=None, **rule)
    assert (
        found is not None
        and found.violated == 2
        and [d["violated"] for d in found.days]
        == [
            False,
            True,
            True,
        ]
    )
    # the holdout rule: 0.86 - 0.05 = 0.81 is stricter than the floor
    slipped = live_days([0.85, 0.84, 0.80, 0.79, 0.80])
    found = degradation(slipped, version="4", floor=0.7, allowance=0.05, baseline=0.86, **rule)
    assert found is not None and found.limit == pytest.approx(0.81)
    assert "holdout value 0.8600 - 0.05" in found.rule
    # too few labels on the bad days: not evidence
    thin = live_days([0.81, 0.80, 0.81, 0.62, 0.58], labelled=40)
    assert degradation(thin, version="4", floor=0.7, allowance=None, baseline=None, **rule) is None
    # another version's numbers never count for the champion
    assert (
        degradation(shifted, version="5", floor=0.7, allowance=None, baseline=None, **rule) is None
    )


def test_the_live_paired_interval_equals_the_reference_loop() -> None:
    """The comparison on live shadow rows: its interval is the percentile interval of the
    reference loop (scikit-learn per resample) over the very same resample indices."""
    from mlops_hooks.shared.domain.comparison import compare, metric_loop, resample_indices
    from mlops_hooks.shared.domain.live import live_evidence
    from mlops_hooks.shared.domain.policy import Comparison

    rng = np.random.default_rng(8)
    n = 600
    truth = rng.random(n) < 0.35
    rows = []
    for version, noise in (("1", 0.45), ("2", 0.3)):
        score = np.clip(truth * 0.5 + rng.normal(0.25, noise, n), 0, 1)
        for i in range(n):
            rows.append(
                {
                    "customerID": f"c{i}",
                    "score_date": date(2026, 11, 23 + i % 3),
                    "version": version,
                    "prediction": "Yes" if score[i] >= 0.5 else "No",
                    "score": score[i],
                    "served": version == "1",
                    "arm": "champion" if version == "1" else "shadow",
                    "label": "Yes" if truth[i] else "No",
                }
            )
    joined = pd.DataFrame(rows).sample(frac=1, random_state=3)  # any order: aligned by key
    evidence = live_evidence(
        joined, id_column="customerID", champion="1", challenger="2", positive="Yes", paired=True
    )
    assert evidence is not None and evidence.paired and evidence.rows == n
    policy = Comparison(metric="roc_auc", resamples=200, seed=5)
    decision = compare(
        evidence.champion, evidence.challenger, policy, challenger_validated=True, paired=True
    )
    indices = resample_indices(n, 200, 5)
    deltas = metric_loop(
        "roc_auc",
        evidence.challenger.truth,
        evidence.challenger.predicted,
        evidence.challenger.scores,
        indices,
    ) - metric_loop(
        "roc_auc",
        evidence.champion.truth,
        evidence.champion.predicted,
        evidence.champion.scores,
        indices,
    )
    low, high = np.quantile(deltas, [0.025, 0.975])
    assert abs(decision.primary.low - low) < 1e-9 and abs(decision.primary.high - high) < 1e-9
    assert decision.test == "paired bootstrap" and decision.promote
    split = live_evidence(
        joined, id_column="customerID", champion="1", challenger="2", positive="Yes", paired=False
    )
    assert split is None  # unpaired uses served rows: v2 served none here, so no evidence


@pytest.mark.parametrize("by_day", [True, False], ids=["by-day", "by-id"])
def test_the_join_equals_a_pandas_merge_reference(by_day: bool) -> None:
    """The numpy join against the plain pandas way (latest label per key, left merge) on
    random predictions and labels with duplicates, unknown ids, missing and late labels."""
    rng = np.random.default_rng(11)
    n = 3000
    ids = rng.integers(0, 800, n).astype(str)
    days = pd.to_datetime("2026-11-01") + pd.to_timedelta(rng.integers(0, 6, n), unit="D")
    predictions = pd.DataFrame(
        {"cid": ids, "score_date": days.date, "version": rng.choice(["1", "2"], n)}
    ).drop_duplicates(["cid", "score_date", "version"])
    given = 2500
    labels = pd.DataFrame(
        {
            "cid": rng.integers(0, 1000, given).astype(str),  # some never scored
            "y": rng.choice(["Yes", "No", None], given, p=[0.45, 0.45, 0.1]),
            "landed_at": pd.Timestamp("2026-11-03", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 15, given), unit="D"),
        }
    )
    if by_day:
        labels["score_date"] = (
            pd.to_datetime("2026-11-01") + pd.to_timedelta(rng.integers(0, 6, given), unit="D")
        ).date
    found = join_labels(predictions, labels, id_column="cid", label_column="y")

    keys = ["cid", "score_date"] if by_day else ["cid"]
    latest = labels.sort_values("landed_at", kind="stable").drop_duplicates(keys, keep="last")
    expected = predictions.merge(latest, on=keys, how="left")
    assert list(found.joined["label"]) == [None if pd.isna(v) else v for v in expected["y"]]
    labelled = expected["y"].notna()
    assert found.counts["duplicate_labels"] == len(labels) - len(latest)
    assert found.counts["unknown_ids"] == len(latest) - len(
        latest.merge(predictions[keys].drop_duplicates(), on=keys)
    )
    pairs = expected[["cid", "score_date"]].astype(str).agg("|".join, axis=1)
    assert found.counts["labelled"] == pairs[labelled].nunique()
    assert found.counts["unlabelled"] == pairs[~labelled].nunique()
    late = labelled & (
        expected["landed_at"].dt.tz_localize(None).dt.normalize()
        > pd.to_datetime(expected["score_date"]) + pd.Timedelta(days=7)
    )
    assert found.counts["late_labels"] == pairs[late].nunique() > 0
