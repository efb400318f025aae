"""performance_degraded over port fakes: an alarm that is no longer about the champion, or
raised while a newer challenger is on live trial, retrains nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_hooks.handlers.performance_degraded import stale_alarm
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.policy import parse_policy
from tests.support.fakes import FakeModel, MemoryJobs, MemoryRegistry, dispatcher_over

POLICY = """
models:
  - name: churn
    deployment: {mode: MODE}
    data: {labels: {bucket: b, prefix: l/, id_column: customerID, label_column: Churn}}
    jobs: {train: {params: {data: "s3://b/training.csv"}}}
"""


@pytest.mark.parametrize(
    ("alarmed", "champion", "on_trial", "said"),
    [
        ("1", "1", None, None),
        ("1", "1", "1", None),
        ("3", "3", "2", None),  # an older challenger left over is no trial of a fix
        ("1", "2", None, "v1 is no longer the champion (v2 is)"),
        ("1", "1", "2", "v2 is the challenger on live trial"),
        ("1", "1", "fix", "vfix is the challenger on live trial"),
    ],
)
def test_stale_alarm(alarmed, champion, on_trial, said) -> None:
    found = stale_alarm(alarmed, champion, on_trial)
    assert found == said if said is None else said in found


@pytest.mark.parametrize(
    ("mode", "result"), [("shadow", "skipped"), ("single", "launched")], ids=["shadow", "single"]
)
def test_a_challenger_on_live_trial_holds_the_retraining(tmp_path: Path, mode, result) -> None:
    registry = MemoryRegistry()
    for version in ("1", "2"):
        registry.add("churn", version, FakeModel(None), run_id=f"r{version}")
    registry.set_alias("churn", "champion", "1")
    registry.set_alias("churn", "challenger", "2")  # retrained after the alarm, in shadow
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"mlflow": registry},
        policy=parse_policy(POLICY.replace("MODE", mode)),
    )
    jobs = MemoryJobs(ledger, dispatcher.clock)
    dispatcher.deps.jobs = jobs
    try:
        alarm = events.performance_degraded(
            "churn", "2026-11-25", reason="roc_auc below 0.65", payload={"version": "1"}
        )
        record = dispatcher.process(dispatcher.submit(alarm).record.id)
        assert record.outcome["result"] == result, record.outcome
        assert len(jobs.launched) == (result == "launched")
    finally:
        ledger.close()
