from __future__ import annotations

from datetime import UTC, datetime

from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind, Source, event_id_for


def test_retries_and_repeated_facts_share_a_key() -> None:
    a = events.model_registered(Source.MLFLOW, "churn", "3", delivery_id="one")
    b = events.model_registered(Source.MLFLOW, "churn", "3", delivery_id="two")
    assert a.key == b.key == "model_registered:mlflow:churn:3"
    assert a.id == b.id == event_id_for(a.key)


def test_keys_follow_the_design_table() -> None:
    t = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert (
        events.promotion_requested(Source.MLFLOW, "m", "2", "champion").key
        == "promotion_requested:mlflow:m:2:champion"
    )
    assert (
        events.promotion_requested(Source.DATABRICKS, "m", "2", "Production").key
        == "promotion_requested:databricks:m:2:Production"
    )
    assert events.data_landed("b", "in/a.csv", "0055").key == "data_landed:b:in/a.csv:0055"
    assert (
        events.drift_detected("m", "2026-11-23T06:00").key == "drift_detected:m:2026-11-23T06%3A00"
    )
    assert (
        events.scheduled("nightly", t, "batch_inference").key
        == "scheduled:nightly:2026-11-23T06%3A00%3A00+00%3A00"
    )
    assert events.approval("act-1").kind is EventKind.APPROVAL


def test_registries_do_not_collide_and_separators_are_escaped() -> None:
    oss = events.model_registered(Source.MLFLOW, "m", "1")
    dbx = events.model_registered(Source.DATABRICKS, "m", "1")
    assert oss.key != dbx.key and dbx.registry == "databricks"
    assert (
        events.model_registered(Source.MLFLOW, "a:b", "1").key
        != events.model_registered(Source.MLFLOW, "a", "b:1").key
    )
