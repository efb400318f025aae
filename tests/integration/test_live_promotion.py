"""Promotion on live evidence, manual mode: v2 scored in shadow beside v1 (a real Delta table
through delta-rs), labels land in S3 (moto over HTTP); with enough labelled rows the labels
handler asks for v2's promotion with evidence live; the comparison runs on the rows both
scored (paired) and is written to v2's own live report section; the approval request is posted
by the real slack-sdk to a local fake of Slack (with a 429 on the way), and a reviewer's signed
click (parsed by the edge's own parser) approves it through the same approval path as today,
and the request's message is replaced through the click's response_url."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pandas as pd
from deltalake import write_deltalake

from mlops_hooks.functions.slack_actions import event_from_slack
from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.adapters.slack_notifier import SlackNotifier
from mlops_hooks.shared.adapters.table_reader import TableReader
from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.domain.live import plan_scoring, score_frame
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.settings import Settings
from tests.support.fake_http import FakeHTTP
from tests.support.fakes import FakeModel, MemoryRegistry, dispatcher_over
from tests.support.slack import click_body

POLICY = """
models:
  - name: churn
    holdout: {label: Churn, positive_label: "Yes"}
    comparison: {metric: roc_auc, resamples: 300}
    promotion: {mode: manual, reviewers: [U_ALICE]}
    deployment: {mode: shadow, challengers: [challenger], evidence_rows: 800}
    data:
      labels: {bucket: live-labels, prefix: churn/, id_column: customerID, label_column: Churn}
    jobs: {batch_inference: {params: {output: PREDICTIONS}}}
"""


def test_a_shadow_challenger_is_promoted_on_live_evidence_by_a_reviewer(
    moto_server: str, tmp_path: Path
) -> None:
    train = churn_data.generate(3000, seed=51)
    weak = churn_data.train_classifier(train[["tenure", "Churn"]])
    strong = churn_data.train_classifier(train)
    models = {"1": weak, "2": strong}

    def scorer(model):
        columns = list(model.feature_names_in_)

        def run(frame: pd.DataFrame):
            proba = model.predict_proba(frame[columns])[:, list(model.classes_).index("Yes")]
            return model.predict(frame[columns]), proba

        return run

    plan, _ = plan_scoring("shadow", model="churn", champion="1", resolved={"challenger": "2"})
    customers = churn_data.generate(1000, seed=52)
    scored = score_frame(
        customers.drop(columns=["Churn"]), {v: scorer(m) for v, m in models.items()}, plan
    )
    scored["score_date"] = date(2026, 11, 23)
    predictions = str(tmp_path / "predictions")
    write_deltalake(predictions, scored)

    registry = MemoryRegistry()
    registry.add("churn", "1", FakeModel(weak), tags={"mlops.validation": "passed"}, run_id="r1")
    registry.add("churn", "2", FakeModel(strong), tags={"mlops.validation": "passed"}, run_id="r2")
    registry.set_alias("churn", "champion", "1")
    registry.set_alias("churn", "challenger", "2")
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="live-labels")
    labels = customers[["customerID", "Churn"]].assign(score_date="2026-11-23")
    s3.put_object(
        Bucket="live-labels", Key="churn/nov23.csv", Body=labels.to_csv(index=False).encode()
    )
    slack = FakeHTTP()
    slack.route("POST", "/api/chat.postMessage")(
        lambda req: (200, {"ok": True, "channel": "C1", "ts": "1800000000.000100"})
    )
    slack.route("POST", "/r")(lambda req: (200, "ok"))
    slack_url = slack.start()
    slack.fail_next("POST", "/api/chat.postMessage", 429, retry_after=1)
    notifier = SlackNotifier(bot_token="xoxb-test", channel="#models", api_url=slack_url + "/api/")
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"mlflow": registry},
        notifier=notifier,
        tables=TableReader(endpoint_url=moto_server),
        policy=parse_policy(POLICY.replace("PREDICTIONS", predictions)),
        settings=Settings(state_dir=tmp_path / "state", tables_uri=str(tmp_path / "tables")),
    )
    try:
        landed = events.data_landed(
            "live-labels", "churn/nov23.csv", "s1", occurred_at=datetime(2026, 11, 24, tzinfo=UTC)
        )
        dispatcher.submit(landed)
        while dispatcher.process() is not None:
            pass
        [request] = ledger.list(kind=EventKind.PROMOTION_REQUESTED)
        assert request.event.payload["evidence"] == "live" and request.version == "2"
        assert request.outcome["result"] == "awaiting_approval", request.outcome
        assert registry.get_alias("churn", "champion") == "1"  # asking is not deciding
        report = read_section(registry.get_version("churn", "2").description, "promotion-live")
        assert "live: 1,000 labelled rows, 2026-11-23 to 2026-11-23" in report
        assert "paired bootstrap" in report
        posted = [c.json() for c in slack.calls("POST", "/api/chat.postMessage")]
        assert posted[0] == posted[1]  # the first message met a 429, and was sent again
        [asked] = [p for p in posted if p["text"].startswith("Approval requested")]
        assert asked["text"] == "Approval requested: Approve promotion? churn v2"
        [buttons] = [b for b in asked["blocks"] if b.get("block_id") == "mlops_approval"]
        assert buttons["elements"][0]["value"] == request.id  # what the click carries back

        body = click_body(request.id, "U_ALICE", action_ts="1.1", response_url=slack_url + "/r")
        click = dispatcher.submit(event_from_slack(body, "", Settings())).record
        decided = dispatcher.process(click.id)
        assert decided.outcome["result"] == "approved", decided.outcome
        assert registry.get_alias("churn", "champion") == "2"
        assert registry.get_alias("churn", "previous_champion") == "1"
        [answer] = [c.json() for c in slack.calls("POST", "/r")]  # the click's response_url
        assert answer["replace_original"] and "Approved" in answer["text"]
    finally:
        ledger.close()
        slack.stop()
