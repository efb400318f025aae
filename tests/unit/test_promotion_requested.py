"""The promotion_requested handler over port fakes: manual mode, waiting for a verdict."""

from __future__ import annotations

from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.ports.ledger import Status
from tests.support.promotion import run

SHADOW = "    data: {labels: {bucket: b, prefix: l/, id_column: customerID, label_column: Churn}}\n"


def test_manual_mode_reports_and_asks_but_does_not_promote(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, notifier = make("manual")
    record = run(dispatcher, "2")
    assert record.outcome["result"] == "awaiting_approval"
    assert registry.get_alias("churn", "champion") == "1"
    report = read_section(registry.get_version("churn", "2").description, "promotion")
    assert "**Action:** awaiting a reviewer's approval (manual mode)" in report
    [asked] = notifier.approvals
    assert not notifier.messages  # the approval request is the message
    assert asked.request_id == record.id and asked.reviewers == ["U_ALICE", "U_BOB"]
    assert asked.message.title == "Approve promotion? churn v2"
    assert asked.table[0][:3] == ["metric", "champion v1", "challenger v2"]
    assert asked.table[1][0] == "roc_auc (primary)"
    assert registry.artifacts == ["r2/mlops-hooks/champion-vs-v2.png"]


def test_manual_mode_rejects_a_challenger_that_failed_validation_without_asking(
    promotion_case,
) -> None:
    registry, make = promotion_case
    registry.set_tags("churn", "2", {"mlops.validation": "failed"})
    registry.set_alias("churn", "challenger", "2")  # the request, as a person set it
    dispatcher, notifier = make("manual")
    record = run(dispatcher, "2")
    assert record.outcome["result"] == "reject"
    assert not notifier.approvals and notifier.messages[0].verdict == "failed"
    assert registry.get_version("churn", "2").tags["mlops.promotion"] == "rejected"
    assert registry.get_alias("churn", "challenger") is None  # a rejected version is no challenger


def test_auto_mode_promotes_and_keeps_the_previous_champion(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, _ = make("auto")
    record = run(dispatcher, "2")
    assert record.outcome["result"] == "promote", record.outcome
    assert registry.get_alias("churn", "champion") == "2"
    assert registry.get_alias("churn", "previous_champion") == "1"
    assert record.outcome["data"]["interval"][0] > 0
    # the challenger's model loads from the version as the handler read it; the champion's is
    # read by the registry (the handler knows only its number)
    assert [(k.version, k.run_id) if k else None for k in registry.loaded_known] == [
        ("2", "r2"),
        None,
    ]


def test_a_challenger_without_a_verdict_is_retried_not_judged(promotion_case) -> None:
    registry, make = promotion_case
    dispatcher, _ = make("auto")
    record = run(dispatcher, "3")
    assert record.status is Status.FAILED and "no validation verdict yet" in record.last_error
    assert registry.get_alias("churn", "champion") == "1"


def test_a_holdout_win_under_a_shadow_deployment_waits_for_live_evidence(promotion_case) -> None:
    registry, make = promotion_case
    registry.set_alias("churn", "challenger", "2")  # set by its validation
    dispatcher, notifier = make(
        "manual", SHADOW + "    deployment: {mode: shadow, evidence_rows: 500}\n"
    )
    record = run(dispatcher, "2")
    assert record.outcome["result"] == "live_trial", record.outcome
    assert record.outcome["data"]["recommendation"] == "promote"
    assert registry.get_alias("churn", "champion") == "1"
    assert registry.get_alias("churn", "challenger") == "2"  # scored beside the champion
    assert not notifier.approvals  # the reviewers are asked on the live evidence
    [told] = notifier.messages
    assert told.title == "churn v2: live_trial"
    report = read_section(registry.get_version("churn", "2").description, "promotion")
    assert "scored in shadow beside the champion until 500 labelled live rows decide" in report


def test_a_holdout_loss_under_a_shadow_deployment_is_rejected_at_once(promotion_case) -> None:
    registry, make = promotion_case
    registry.set_alias("churn", "champion", "2")
    registry.set_alias("churn", "challenger", "1")
    dispatcher, _ = make("auto", SHADOW + "    deployment: {mode: shadow}\n")
    record = run(dispatcher, "1")
    assert record.outcome["result"] == "reject", record.outcome
    assert registry.get_alias("churn", "challenger") is None  # nothing left to shadow
