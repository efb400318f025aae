"""The registry sweep of a Databricks workspace: its workspace model registry and Unity Catalog
(which has no registry webhooks), through the real databricks-sdk against the recording fake,
with the keys its webhooks' events have."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_hooks.functions.databricks_webhook import event_from_databricks
from mlops_hooks.jobs.train import model_requirements
from mlops_hooks.shared.adapters.databricks_registry import DatabricksRegistry
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.settings import Settings
from tests.support.fake_databricks import MLFLOW, UC, Workspace, fake_databricks
from tests.support.fake_http import FakeHTTP
from tests.support.fakes import FixedClock, dispatcher_over

DAY_MS = 86_400_000
UC_MODEL = "main.mlops.churn"


@pytest.fixture
def workspace() -> Iterator[tuple[Workspace, FakeHTTP, DatabricksRegistry]]:
    ws = Workspace()
    fake = fake_databricks(ws)
    url = fake.start()
    registry = DatabricksRegistry.connect(
        url, "dapi-test", retry_timeout_seconds=10, uc_schemas=("main.mlops",)
    )
    yield ws, fake, registry
    fake.stop()


def seeded(ws: Workspace, now_ms: int) -> None:
    """Last week: churn v1, fraud v1, UC churn v1. Now: churn v2 with a transition request to
    Production and fraud's v1 tagged for promotion; UC churn v2 with the challenger alias."""
    week_ago = now_ms - 7 * DAY_MS
    for name in ("churn", "fraud", UC_MODEL):
        ws.add_version(name, "1", created_ms=week_ago)
    ws.add_version("churn", "2", created_ms=now_ms)
    ws.requests.append({"action": "create", "name": "churn", "version": "2", "stage": "Production"})
    ws.versions[("fraud", "1")]["tags"].append({"key": "mlops.promote", "value": "Staging"})
    ws.touch("fraud", now_ms)
    ws.add_version(UC_MODEL, "2", created_ms=now_ms)
    ws.aliases[(UC_MODEL, "challenger")] = 2
    ws.touch(UC_MODEL, now_ms)


def test_changes_since_reads_only_what_changed_and_counts_its_calls(workspace) -> None:
    ws, fake, registry = workspace
    now_ms = int(time.time() * 1000)
    seeded(ws, now_ms)
    for _ in range(40):  # models nobody touched since last week cost nothing
        ws.add_version(f"old-{_}", "1", created_ms=now_ms - 7 * DAY_MS)
    fake.fail_next("GET", f"{MLFLOW}/registered-models/search", 429, retry_after=1)

    scan = registry.changes_since(
        now_ms - DAY_MS, aliases=frozenset({"challenger"}), promote_tag="mlops.promote"
    )
    assert {(c.kind, c.model, c.version, c.value) for c in scan.changes} == {
        ("version_created", "churn", "2", None),
        ("transition_request", "churn", "2", "Production"),
        ("tag", "fraud", "1", "Staging"),
        ("version_created", UC_MODEL, "2", None),
        ("alias", UC_MODEL, "2", "challenger"),
    }
    # models search (1) + churn's and fraud's versions (2) + their open requests (3: churn v1,
    # v2, fraud v1) + the UC schema's models (1) + UC churn's versions (1); the 429 is the SDK's
    assert scan.calls == 8
    assert len(fake.calls("GET", f"{MLFLOW}/registered-models/search")) == 2  # 429, retried

    idle = registry.changes_since(
        now_ms + 1, aliases=frozenset({"challenger"}), promote_tag="mlops.promote"
    )
    assert not [c for c in idle.changes if c.kind == "version_created"]
    assert idle.calls == 2  # the newest workspace model is older: one call; one UC listing
    api = [r for r in fake.requests if r.path.startswith("/api/")]  # not the SDK's discovery
    assert api and all(r.headers.get("authorization") == "Bearer dapi-test" for r in api)


def test_swept_events_have_the_webhooks_keys_and_run_once(workspace, tmp_path: Path) -> None:
    ws, _, registry = workspace
    now_ms = int(time.time() * 1000)
    seeded(ws, now_ms)
    settings = Settings(state_dir=tmp_path, sweep_uc_schemas="main.mlops")
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"databricks": registry},
        clock=FixedClock(now_ms / 1000),
        settings=settings,
    )
    try:
        # the webhook of churn v2 arrived; the sweep finds it too: one event, two deliveries
        body = json.dumps(
            {"event": "MODEL_VERSION_CREATED", "model_name": "churn", "version": "2"}
        ).encode()
        webhook = dispatcher.submit(event_from_databricks(body))
        tick = events.action("sweep", {"since": None}, "r1", user="test")
        done = dispatcher.process(dispatcher.submit(tick).record.id)
        assert done.outcome["result"] == "done", done.outcome
        figures = done.outcome["data"]["sweep:databricks"]
        assert figures["raised"] == {"model_registered": 2, "promotion_requested": 2}
        assert figures["baseline"] == 1  # fraud v1's tag predates the look-back: taken as is
        registered = {(r.model, r.version): r for r in ledger.list(kind=EventKind.MODEL_REGISTERED)}
        assert set(registered) == {("churn", "2"), (UC_MODEL, "2")}
        assert registered[("churn", "2")].id == webhook.record.id
        assert registered[("churn", "2")].deliveries == 2
        requested = {
            (r.model, r.version, r.event.target)
            for r in ledger.list(kind=EventKind.PROMOTION_REQUESTED)
        }
        assert requested == {("churn", "2", "Production"), (UC_MODEL, "2", "champion")}

        def sweep(request: str) -> list[str]:
            tick = events.action("sweep", {"since": None}, request, user="test")
            return dispatcher.process(dispatcher.submit(tick).record.id).outcome["emitted"]

        assert sweep("r2") == []  # nothing new, nothing raised again
        # a promotion asked for after the first sweep is heard, once
        ws.versions[("fraud", "1")]["tags"] = [{"key": "mlops.promote", "value": "Production"}]
        ws.touch("fraud")
        [emitted] = sweep("r3")
        assert ledger.get(emitted).event.target == "Production"
        assert ledger.get(emitted).model == "fraud" and sweep("r4") == []
    finally:
        ledger.close()


def test_a_uc_schema_setting_is_catalog_dot_schema() -> None:
    from mlops_hooks.shared.settings import SettingsError, settings_from

    with pytest.raises(SettingsError, match=r"catalog\.schema, not 'main'"):
        settings_from(sweep_uc_schemas="main")
    assert settings_from(sweep_uc_schemas=" main.mlops, dev.ml ").sweep_uc_schema_list == [
        "main.mlops",
        "dev.ml",
    ]


def test_uc_listing_pages_are_read_to_the_end(workspace) -> None:
    ws, fake, registry = workspace
    now_ms = int(time.time() * 1000)
    for i in range(1203):  # over one page of 1,000
        ws.add_version(f"main.mlops.m{i:04d}", "1", created_ms=now_ms - 7 * DAY_MS)
    ws.aliases[("main.mlops.m1202", "challenger")] = 1
    scan = registry.changes_since(
        now_ms - DAY_MS, aliases=frozenset({"challenger"}), promote_tag="mlops.promote"
    )
    assert [(c.kind, c.model) for c in scan.changes] == [("alias", "main.mlops.m1202")]
    assert len(fake.calls("GET", f"{UC}")) == 2


UC_POLICY = """
models:
  - name: "main.mlops.*"
    checks: {{loads: {{}}, signature: {{}}, predictions: {{}},
             metrics: {{thresholds: {{roc_auc: {{min: 0.6}}}}, evaluator: builtin}}}}
    holdout: {{uri: "{holdout}", label: Churn}}
    comparison: {{resamples: 200}}
    promotion: {{mode: {mode}, reviewers: [U_ALICE]}}
"""


@pytest.mark.parametrize("mode", ["auto", "manual"])
def test_unity_catalog_end_to_end_with_no_webhook_and_no_local_files(
    workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A UC version created -> the sweep -> validated (its files fetched through MLflow's
    databricks-uc registry with the workspace's token) -> the report in the version's comment
    -> the challenger alias -> the next sweep hears it -> compared with the champion -> the
    champion alias moves (auto), or a reviewer approves on Slack first (manual). Nothing is
    written to the working directory (no mlflow.db)."""
    import mlflow.sklearn

    from mlops_hooks.functions.slack_actions import event_from_slack
    from mlops_hooks.shared.adapters.markdown import read_section
    from mlops_hooks.shared.adapters.table_reader import TableReader
    from mlops_hooks.shared.domain import churn_data
    from mlops_hooks.shared.domain.policy import parse_policy
    from tests.support.slack import click_body

    ws, fake, registry = workspace
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # where MLflow's default store would appear
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DATABRICKS_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)
    frame = churn_data.generate(2000, seed=5)
    train, holdout = frame.iloc[:1600], frame.iloc[1600:]
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    now_ms = int(time.time() * 1000)
    weak = train[["tenure", "MonthlyCharges", "Churn"]]
    for version, data, created in (("1", weak, now_ms - 7 * DAY_MS), ("2", train, now_ms)):
        folder = tmp_path / f"v{version}"
        features = data.drop(columns=["Churn"])
        mlflow.sklearn.save_model(
            churn_data.train_classifier(data),
            folder,
            input_example=features.head(2),
            pip_requirements=model_requirements(),  # not inferred: ~4 s of CPU in a subprocess
        )
        ws.add_version(UC_MODEL, version, created_ms=created, comment="Owner: Ada.")
        ws.add_model_files(UC_MODEL, version, folder)
    ws.aliases[(UC_MODEL, "champion")] = 1
    ws.touch(UC_MODEL, now_ms - 7 * DAY_MS)
    ws.touch(UC_MODEL, now_ms)  # v2's creation moved it
    text = UC_POLICY.format(holdout=tmp_path / "holdout.csv", mode=mode)
    policy = parse_policy(text, "mlops.yml")
    settings = Settings(state_dir=tmp_path / "state", sweep_uc_schemas="main.mlops")
    dispatcher, ledger = dispatcher_over(
        tmp_path / "state",
        registries={"databricks": registry},
        tables=TableReader(),
        policy=policy,
        clock=FixedClock(now_ms / 1000),
        settings=settings,
    )

    def run(event_id: str) -> dict:
        done = dispatcher.process(event_id)
        assert done.status.value == "done", (done.last_error, done.outcome)
        return done.outcome

    def sweep(request: str) -> list[str]:
        tick = events.action("sweep", {"since": None}, request, user="test")
        return run(dispatcher.submit(tick).record.id)["emitted"]

    try:
        [registered] = sweep("r1")  # v2 only: v1 predates the look-back
        validated = run(registered)
        assert validated["result"] == "passed", validated
        comment = ws.versions[(UC_MODEL, "2")]["comment"]
        assert comment.startswith("Owner: Ada.")
        assert read_section(comment, "validation").startswith("### mlops-hooks validation: ✅")
        assert ws.tags(UC_MODEL, "2")["mlops.validation"] == "passed"
        assert ws.aliases[(UC_MODEL, "challenger")] == 2  # the request, the UC way

        # the handler's own request and the sweep's find of the alias are one event
        [requested] = validated["emitted"]
        assert sweep("r2") in ([], [requested])
        decided = run(requested)
        if mode == "manual":  # asked on Slack; the reviewer's click decides
            assert decided["result"] == "awaiting_approval", decided
            assert ws.aliases[(UC_MODEL, "champion")] == 1
            [asked] = dispatcher.deps.notifier.approvals
            click = event_from_slack(
                click_body(asked.request_id, "U_ALICE", "approve"), "", settings
            )
            decided = run(dispatcher.submit(click).record.id)
            assert decided["result"] == "approved", decided
            assert ws.tags(UC_MODEL, "2")["mlops.approval.by"] == "U_ALICE"
        else:
            assert decided["result"] == "promote", decided
        assert ws.aliases[(UC_MODEL, "champion")] == 2
        assert ws.aliases[(UC_MODEL, "previous_champion")] == 1
        assert sweep("r3") == []
    finally:
        ledger.close()

    downloads = [r for r in fake.requests if r.path.startswith("/api/2.0/fs/files/Models/")]
    fetched = {r.path.split("/")[-2] for r in downloads if r.path.endswith("/MLmodel")}
    assert fetched == {"1", "2"}  # both versions' files, for validation and comparison
    assert all(r.headers.get("authorization") == "Bearer dapi-test" for r in downloads)
    assert not list(tmp_path.rglob("mlflow.db")) and not Path("mlflow.db").exists()
