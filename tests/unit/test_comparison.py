"""The paired bootstrap: vectorised numbers equal the scikit-learn loop; the decision rules."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_hooks.shared.domain.comparison import (
    compare,
    metric_bootstrap,
    metric_loop,
    resample_indices,
)
from mlops_hooks.shared.domain.policy import Comparison
from mlops_hooks.shared.domain.scoring import Scored


def classifier(seed: int, skill: float, rows: int = 800) -> Scored:
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(0).random(rows) < 0.3
    noise = rng.normal(size=rows)
    scores = 1 / (1 + np.exp(-(skill * (truth * 2 - 1) + noise)))
    scores = np.round(scores, 2)  # ties, as real scores have
    return Scored(truth, scores >= 0.5, scores, True, True)


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss", "accuracy", "precision", "recall", "f1"])
def test_vectorised_classifier_metrics_equal_the_sklearn_loop(metric: str) -> None:
    s = classifier(1, 1.0)
    idx = resample_indices(len(s.truth), 200, seed=3)
    fast = metric_bootstrap(metric, s.truth, s.predicted, s.scores, idx)
    slow = metric_loop(metric, s.truth, s.predicted, s.scores, idx)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_vectorised_regressor_metrics_equal_the_sklearn_loop(metric: str) -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(size=500)
    predicted = truth + rng.normal(scale=0.3, size=500)
    idx = resample_indices(500, 150, seed=4)
    fast = metric_bootstrap(metric, truth, predicted, None, idx)
    slow = metric_loop(metric, truth, predicted, None, idx)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_chunking_does_not_change_the_numbers(monkeypatch) -> None:
    s = classifier(1, 1.0)
    idx = resample_indices(len(s.truth), 64, seed=5)
    whole = metric_bootstrap("roc_auc", s.truth, s.predicted, s.scores, idx)
    monkeypatch.setattr("mlops_hooks.shared.domain.comparison.CHUNK_CELLS", 3 * len(s.truth))
    chunked = metric_bootstrap("roc_auc", s.truth, s.predicted, s.scores, idx)
    assert np.array_equal(whole, chunked)


def test_a_clearly_better_challenger_is_promoted_and_a_worse_one_rejected() -> None:
    champion, better, worse = classifier(1, 1.0), classifier(2, 2.0), classifier(3, 0.3)
    policy = Comparison(metric="roc_auc", resamples=300, seed=7)
    up = compare(champion, better, policy, challenger_validated=True)
    assert up.promote and up.primary.low > 0 and up.primary.delta > 0
    down = compare(champion, worse, policy, challenger_validated=True)
    assert not down.promote and "interval of the improvement starts at" in down.reasons[0]
    same_seed = compare(champion, better, policy, challenger_validated=True)
    assert (same_seed.primary.low, same_seed.primary.high) == (up.primary.low, up.primary.high)


def test_guardrails_validation_and_no_champion() -> None:
    champion, better = classifier(1, 1.0), classifier(2, 2.0)
    strict = Comparison(metric="roc_auc", resamples=100, guardrails={"recall": -1.0})
    blocked = compare(champion, better, strict, challenger_validated=True)
    assert not blocked.promote and blocked.reasons[0].startswith("guardrail recall regresses")
    unvalidated = compare(champion, better, Comparison(resamples=100), challenger_validated=False)
    assert unvalidated.reasons[0] == "the challenger did not pass validation"
    first = compare(None, better, Comparison(), challenger_validated=True)
    assert first.promote and first.primary is None


def test_minimised_metrics_use_the_upper_end_of_the_delta() -> None:
    champion, better = classifier(1, 1.0), classifier(2, 2.0)
    result = compare(
        champion,
        better,
        Comparison(metric="log_loss", direction="minimize", resamples=200),
        challenger_validated=True,
    )
    assert result.primary.delta < 0 and result.primary.improvement_low == -result.primary.high
    assert result.promote


def test_a_tie_keeps_the_champion_saying_so() -> None:
    """A retraining that changed nothing scores exactly as the champion: no churn of the alias
    (the default requires a strictly positive pessimistic improvement)."""
    champion = classifier(1, 0.6)
    same = Scored(champion.truth, champion.predicted, champion.scores, champion.classifier)
    decision = compare(champion, same, Comparison(resamples=200), challenger_validated=True)
    assert not decision.promote
    assert decision.reasons == [
        "roc_auc: the challenger scores the same as the champion (the interval of the "
        "improvement is 0 to 0): a tie keeps the champion"
    ]
