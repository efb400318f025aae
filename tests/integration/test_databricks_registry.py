"""DatabricksRegistry: the real databricks-sdk against a local, recording fake of the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow.sklearn
import pytest

from mlops_hooks.functions.slack_actions import event_from_slack
from mlops_hooks.jobs.train import model_requirements
from mlops_hooks.shared.adapters.databricks_registry import DatabricksRegistry
from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.adapters.table_reader import TableReader
from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.events import Source
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.ports.renderer import Image
from mlops_hooks.shared.settings import Settings
from tests.support.fake_databricks import MLFLOW, UC, Workspace, fake_databricks
from tests.support.fake_http import FakeHTTP
from tests.support.fakes import dispatcher_over
from tests.support.slack import click_body


@pytest.fixture
def workspace() -> Iterator[tuple[Workspace, FakeHTTP, DatabricksRegistry]]:
    ws = Workspace()
    fake = fake_databricks(ws)
    url = fake.start()
    yield ws, fake, DatabricksRegistry.connect(url, "dapi-test", retry_timeout_seconds=10)
    fake.stop()


def test_comment_created_once_then_updated_and_recreated_if_deleted(workspace) -> None:
    ws, fake, registry = workspace
    ws.add_version("churn", "4", description="Trained by Ada.")
    fake.fail_next("POST", f"{MLFLOW}/comments/create", 429, retry_after=1)

    registry.write_report("churn", "4", "validation", "first")
    registry.write_report("churn", "4", "validation", "second")
    assert len(fake.calls("POST", f"{MLFLOW}/comments/create")) == 2  # the 429, then the one
    assert len(fake.calls("PATCH", f"{MLFLOW}/comments/update")) == 1
    [comment] = ws.comments.values()
    assert comment["comment"] == "second"
    assert ws.tags("churn", "4")["mlops.comment.validation"] == comment["id"]

    ws.comments.clear()  # a user deleted it
    registry.write_report("churn", "4", "validation", "third")
    [again] = ws.comments.values()
    assert again["comment"] == "third"
    assert ws.tags("churn", "4")["mlops.comment.validation"] == again["id"]


def test_tags_and_transition_requests(workspace) -> None:
    ws, fake, registry = workspace
    ws.add_version("churn", "4")
    fake.fail_next("POST", f"{MLFLOW}/model-versions/set-tag", 503)
    registry.set_tags("churn", "4", {"mlops.validation": "passed", "mlops.validated_at": "t"})
    assert ws.tags("churn", "4") == {"mlops.validation": "passed", "mlops.validated_at": "t"}

    done = registry.request_promotion(
        "churn", "4", alias="challenger", stage="Production", comment="validated"
    )
    again = registry.request_promotion(
        "churn", "4", alias="challenger", stage="Production", comment="validated"
    )
    assert done.startswith("transition request to Production")
    assert "already open" in again
    registry.approve_transition("churn", "4", "Production", "report")
    registry.reject_transition("churn", "4", "Staging", "no")
    assert [(r["action"], r["stage"]) for r in ws.requests] == [
        ("create", "Production"),
        ("approve", "Production"),
        ("reject", "Staging"),
    ]
    assert ws.requests[1]["archive_existing_versions"] is True
    assert registry.version_url("churn", "4").endswith("/#mlflow/models/churn/versions/4")


def test_unity_catalog_versions_keep_the_report_in_their_comment_and_use_aliases(
    workspace,
) -> None:
    ws, fake, registry = workspace
    name = "ml.churn.model"
    ws.add_version(name, "2", comment="Owner: Ada.")
    registry.write_report(name, "2", "validation", "## run 1")
    registry.write_report(name, "2", "validation", "## run 2")
    comment = ws.versions[(name, "2")]["comment"]
    assert comment.startswith("Owner: Ada.") and read_section(comment, "validation") == "## run 2"
    assert comment.count("mlops-hooks:validation:begin") == 1

    assert registry.get_alias(name, "champion") is None
    registry.request_promotion(name, "2", alias="challenger", stage="Production", comment="")
    assert registry.get_alias(name, "challenger") == "2"
    assert registry.get_version(name, "2").aliases == ["challenger"]
    registry.set_tags(name, "2", {"mlops.validation": "passed"})
    assert ws.tags(name, "2") == {"mlops.validation": "passed"}
    assert fake.calls("PUT", f"{UC}/{name}/aliases/challenger")
    assert registry.version_url(name, "2").endswith("/explore/data/models/ml/churn/model/version/2")


def saved_model(folder: Path, train) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model"
    mlflow.sklearn.save_model(
        churn_data.train_classifier(train),
        path,
        input_example=train.drop(columns=["Churn"]).head(2),
        pip_requirements=model_requirements(),  # not inferred: ~4 s of CPU in a subprocess
    )
    return path


POLICY = """
models:
  - name: churn
    checks: {{loads: {{}}, signature: {{}}, predictions: {{}}, lineage: {{}},
             metrics: {{thresholds: {{roc_auc: {{min: 0.6}}}}, evaluator: builtin}}}}
    holdout: {{uri: "{holdout}", label: Churn}}
    comparison: {{resamples: 200}}
    promotion: {{target_stage: Production, mode: {mode}, reviewers: [U_ALICE, U_BOB]}}
"""


@pytest.fixture
def churn_workspace(workspace, tmp_path: Path):
    """The fake workspace with a Telco-like holdout, and a dispatcher over the real SDK."""
    ws, fake, registry = workspace
    frame = churn_data.generate(2000, seed=5)
    train, holdout = frame.iloc[:1600], frame.iloc[1600:]
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    ledgers = []

    def dispatcher_in(mode: str):
        folder = tmp_path / mode
        folder.mkdir()
        policy = POLICY.format(holdout=tmp_path / "holdout.csv", mode=mode)
        dispatcher, ledger = dispatcher_over(
            folder,
            registries={"databricks": registry},
            tables=TableReader(),
            policy=parse_policy(policy, "mlops.yml"),
        )
        ledgers.append(ledger)
        return dispatcher

    yield ws, fake, dispatcher_in, train
    for ledger in ledgers:
        ledger.close()


def test_model_registered_on_databricks_comments_once_and_updates_on_replay(
    churn_workspace, tmp_path: Path
) -> None:
    """The handler end to end over the SDK: model from the download URI, lineage from the run."""
    ws, fake, dispatcher_in, train = churn_workspace
    dispatcher = dispatcher_in("auto")
    model_dir = saved_model(tmp_path / "v7", train)
    ws.add_version("churn", "7", artifact_uri=str(model_dir), run_id="run-7")
    ws.runs["run-7"] = {
        "info": {"run_id": "run-7", "experiment_id": "42"},
        "data": {"params": [{"key": "C", "value": "1.0"}]},
        "inputs": {
            "dataset_inputs": [
                {
                    "tags": [{"key": "mlflow.data.context", "value": "training"}],
                    "dataset": {"name": "churn-train", "digest": "d", "source_type": "delta"},
                }
            ]
        },
    }
    recorded = dispatcher.submit(events.model_registered(Source.DATABRICKS, "churn", "7"))
    first = dispatcher.process(recorded.record.id)
    assert first.status is Status.DONE and first.outcome["result"] == "passed", first.outcome
    dispatcher.replay(first.id)
    assert dispatcher.process(first.id).status is Status.DONE

    assert len(fake.calls("POST", f"{MLFLOW}/comments/create")) == 1
    assert len(fake.calls("PATCH", f"{MLFLOW}/comments/update")) == 1
    [comment] = ws.comments.values()
    assert comment["comment"].startswith("### mlops-hooks validation: ✅ passed")
    assert "| `lineage` | ✅ passed |" in comment["comment"]
    assert "#mlflow/experiments/42/runs/run-7" in comment["comment"]
    tags = ws.tags("churn", "7")
    assert tags["mlops.validation"] == "passed" and tags["mlops.validation.failed"] == ""
    # one transition request to the policy's stage, not a second one on replay
    assert [(r["action"], r["stage"]) for r in ws.requests] == [("create", "Production")]
    assert len(first.outcome["emitted"]) == 1


def test_transition_requests_are_approved_or_rejected_exactly_once(
    churn_workspace, tmp_path: Path
) -> None:
    """Webhook delivered twice and the event replayed: one approve, one reject, at most."""
    ws, fake, dispatcher_in, train = churn_workspace
    dispatcher = dispatcher_in("auto")
    add_champion_and_challengers(ws, train, tmp_path)

    def deliver(version: str):
        event = events.promotion_requested(Source.DATABRICKS, "churn", version, "Production")
        first = dispatcher.submit(event)
        again = dispatcher.submit(event)  # the webhook, delivered twice
        assert not again.created
        done = dispatcher.process(first.record.id)
        dispatcher.replay(first.record.id)
        replayed = dispatcher.process(first.record.id)
        return done, replayed

    better, better_again = deliver("2")
    assert better.outcome["result"] == "promote", better.outcome
    assert better_again.outcome["summary"] == "v2 is already the champion"
    assert ws.versions[("churn", "2")]["current_stage"] == "Production"
    assert ws.versions[("churn", "1")]["current_stage"] == "Archived"

    worse, _ = deliver("3")
    assert worse.outcome["result"] == "reject"
    assert [(r["action"], r["version"]) for r in ws.requests if r["action"] != "create"] == [
        ("approve", "2"),
        ("reject", "3"),
    ]
    approve = fake.calls("POST", f"{MLFLOW}/transition-requests/approve")[0].json()
    assert approve["archive_existing_versions"] is True
    assert approve["comment"].startswith("### mlops-hooks promotion: ✅ promote v2")
    reject = fake.calls("POST", f"{MLFLOW}/transition-requests/reject")[0].json()
    assert "interval of the improvement starts at" in reject["comment"]


def add_champion_and_challengers(ws: Workspace, train, folder: Path) -> None:
    """v1 (weak) in Production; v2 (strong) and v3 (weak) validated, each with an open request."""
    weak = train[["tenure", "MonthlyCharges", "Churn"]]
    for version, data, stage in (("1", weak, "Production"), ("2", train, None), ("3", weak, None)):
        ws.add_version(
            "churn",
            version,
            artifact_uri=str(saved_model(folder / f"v{version}", data)),
            tags=[{"key": "mlops.validation", "value": "passed"}],
            **({"current_stage": stage} if stage else {}),
        )
    for version in ("2", "3"):
        ws.requests.append(
            {"action": "create", "name": "churn", "version": version, "stage": "Production"}
        )


def test_a_slack_approval_approves_the_transition_request_exactly_once(
    churn_workspace, tmp_path: Path
) -> None:
    """Manual mode: Slack's retry, a double click and a second reviewer -> one approve call."""
    ws, fake, dispatcher_in, train = churn_workspace
    dispatcher = dispatcher_in("manual")
    add_champion_and_challengers(ws, train, tmp_path)
    asked = dispatcher.process(
        dispatcher.submit(
            events.promotion_requested(Source.DATABRICKS, "churn", "2", "Production")
        ).record.id
    )
    assert asked.outcome["result"] == "awaiting_approval", asked.outcome
    assert not [r for r in ws.requests if r["action"] != "create"]  # nothing decided yet
    [request] = dispatcher.deps.notifier.approvals
    clicks = [
        ("U_ALICE", "approve", "1.1"),
        ("U_ALICE", "approve", "1.1"),  # Slack's retry of the same click
        ("U_ALICE", "approve", "1.2"),  # a double click
        ("U_BOB", "reject", "1.3"),  # a second reviewer, too late
    ]
    results = []
    for user, decision, ts in clicks:
        body = click_body(request.request_id, user, decision, action_ts=ts)
        recorded = dispatcher.submit(event_from_slack(body, "", Settings()))
        done = dispatcher.process(recorded.record.id)
        results.append(done.outcome["result"] if done else "duplicate")
    assert results == ["approved", "duplicate", "already_decided", "already_decided"]
    assert [(r["action"], r["version"]) for r in ws.requests if r["action"] != "create"] == [
        ("approve", "2")
    ]
    [approve] = fake.calls("POST", f"{MLFLOW}/transition-requests/approve")
    assert approve.json()["comment"].startswith("Approved by u_alice (U_ALICE) on Slack at ")
    assert ws.versions[("churn", "2")]["current_stage"] == "Production"
    assert ws.versions[("churn", "1")]["current_stage"] == "Archived"
    assert ws.tags("churn", "2")["mlops.approval.by"] == "U_ALICE"


def test_the_comparison_picture_is_uploaded_into_the_runs_dbfs_artifacts(
    workspace, tmp_path: Path
) -> None:
    ws, fake, registry = workspace
    root = "dbfs:/databricks/mlflow-tracking/42/run-9/artifacts"
    ws.runs["run-9"] = {"info": {"run_id": "run-9", "experiment_id": "42", "artifact_uri": root}}
    png = Image("champion-vs-v9.png", b"\x89PNG fake bytes")
    assert registry.log_artifact("run-9", png, "mlops-hooks") is None  # no browser URL on DBFS
    target = "/databricks/mlflow-tracking/42/run-9/artifacts/mlops-hooks/champion-vs-v9.png"
    assert ws.files == {target: b"\x89PNG fake bytes"}
    assert len(fake.calls("POST", "/api/2.0/dbfs/close")) == 1
