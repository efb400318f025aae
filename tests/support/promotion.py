"""A champion (weak model) and challengers over port fakes, for the promotion handlers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.events import Source
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.settings import Settings
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
    promotion: {mode: MODE, reviewers: [U_ALICE, U_BOB], cli_reviewers: [carol]}
"""


@pytest.fixture
def promotion_case(tmp_path: Path):
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

    def make(mode: str, more: str = ""):
        """``more``: policy lines for the model (indented as its keys)."""
        (tmp_path / mode).mkdir()
        notifier = RecordingNotifier()
        dispatcher, ledger = dispatcher_over(
            tmp_path / mode,
            registries={"mlflow": registry},
            tables=MemoryTables({"memory://holdout": holdout}),
            notifier=notifier,
            policy=parse_policy(POLICY.replace("MODE", mode) + more),
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
