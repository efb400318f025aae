"""The promotion_requested handler over port fakes: manual mode, waiting for a verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import churn_data, events
from shared.events import Source
from shared.ledger import Status
from shared.policy import parse_policy
from shared.reports import read_section
from shared.settings import Settings
from tests.support.fakes import (
    FakeModel,
    MemoryRegistry,
    MemoryTables,
    RecordingNotifier,
    dispatcher_over,
)

POLICY = """
models:
  - name: churn
    holdout: {uri: "memory://holdout", label: Churn}
    comparison: {resamples: 200}
    promotion: {mode: MODE}
"""


@pytest.fixture
def setup(tmp_path: Path):
    frame = churn_data.generate(2500, seed=9)
    train, holdout = frame.iloc[:2000], frame.iloc[2000:]
    weak = churn_data.train_classifier(train[["tenure", "Churn"]])
    strong = churn_data.train_classifier(train)
    registry = MemoryRegistry()
    passed = {"mlops.validation": "passed"}
    registry.add("churn", "1", FakeModel(weak), tags=passed, run_id="r1")
    registry.add("churn", "2", FakeModel(strong), tags=passed, run_id="r2")
    registry.add("churn", "3", FakeModel(strong), run_id="r3")  # not validated yet
    registry.set_alias("churn", "champion", "1")
    ledgers = []

    def make(mode: str):
        (tmp_path / mode).mkdir()
        notifier = RecordingNotifier()
        dispatcher, ledger = dispatcher_over(
            tmp_path / mode,
            registries={"mlflow": registry},
            tables=MemoryTables({"memory://holdout": holdout}),
            notifier=notifier,
            policy=parse_policy(POLICY.replace("MODE", mode)),
            settings=Settings(state_dir=tmp_path, retry_base_seconds=0.01),
        )
        ledgers.append(ledger)
        return dispatcher, notifier

    yield registry, make
    for ledger in ledgers:
        ledger.close()


def run(dispatcher, version: str):
    recorded = dispatcher.submit(
        events.promotion_requested(Source.MLFLOW, "churn", version, "champion")
    )
    return dispatcher.process(recorded.record.id)


def test_manual_mode_reports_and_asks_but_does_not_promote(setup) -> None:
    registry, make = setup
    dispatcher, notifier = make("manual")
    record = run(dispatcher, "2")
    assert record.outcome["result"] == "awaiting_approval"
    assert registry.get_alias("churn", "champion") == "1"
    report = read_section(registry.get_version("churn", "2").description, "promotion")
    assert "**Action:** awaiting a reviewer's approval (manual mode)" in report
    assert notifier.messages[0].title == "churn v2: promote (awaiting approval)"
    assert registry.artifacts == ["r2/mlops-hooks/champion-vs-v2.png"]


def test_auto_mode_promotes_and_keeps_the_previous_champion(setup) -> None:
    registry, make = setup
    dispatcher, _ = make("auto")
    record = run(dispatcher, "2")
    assert record.outcome["result"] == "promote", record.outcome
    assert registry.get_alias("churn", "champion") == "2"
    assert registry.get_alias("churn", "previous_champion") == "1"
    assert record.outcome["data"]["interval"][0] > 0


def test_a_challenger_without_a_verdict_is_retried_not_judged(setup) -> None:
    registry, make = setup
    dispatcher, _ = make("auto")
    record = run(dispatcher, "3")
    assert record.status is Status.FAILED and "no validation verdict yet" in record.last_error
    assert registry.get_alias("churn", "champion") == "1"
