"""DatabricksJobs: the real databricks-sdk against a local fake of the Jobs API."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops_hooks.shared.adapters.databricks_jobs import DatabricksJobs
from mlops_hooks.shared.domain import churn_data, events
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.ports.ledger import RunState
from mlops_hooks.shared.settings import Settings
from tests.support.fake_databricks import JOBS, JobsState, add_jobs_routes
from tests.support.fake_http import FakeHTTP
from tests.support.fakes import MemoryTables, dispatcher_over

ROOT = Path(__file__).resolve().parents[2]
LANDED = "s3://landing/churn/2026-11-23.csv"
POLICY = """
models:
  - name: churn
    holdout: {label: Churn}
    data: {watch: [{bucket: landing, prefix: churn/}]}
    jobs:
      train: {name: "[prod] mlops-hooks-train", params: {estimator: gradient_boosting}}
"""


@contextmanager
def over_databricks(tmp_path: Path, policy: str, **settings: object):
    """A dispatcher whose jobs run on the Databricks fake through the real databricks-sdk."""
    from mlops_hooks.shared.adapters.databricks_client import workspace_client

    state = JobsState(["[prod] mlops-hooks-train", "[prod] mlops-hooks-batch-inference"])
    fake = FakeHTTP()
    add_jobs_routes(fake, state)
    url = fake.start()
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        tables=MemoryTables({LANDED: churn_data.generate(200, seed=1)}),
        policy=parse_policy(policy),
        settings=Settings(state_dir=tmp_path, **settings),
    )
    client, host = workspace_client(url, "dapi-test", retry_timeout_seconds=10)
    dispatcher.deps.jobs = DatabricksJobs(client, host, ledger, dispatcher.clock)
    try:
        yield state, fake, dispatcher
    finally:
        ledger.close()
        fake.stop()


@pytest.fixture
def databricks(tmp_path: Path):
    with over_databricks(tmp_path, POLICY) as found:
        yield found


VOLUMES = "/Volumes/prod/mlops/tables/churn"
POLICY_ON_VOLUMES = f"""
models:
  - name: churn
    holdout: {{label: Churn}}
    data: {{watch: [{{bucket: landing, prefix: churn/}}]}}
    jobs:
      train: {{name: "[prod] mlops-hooks-train", params: {{features_table: {VOLUMES}/features}}}}
      batch_inference:
        name: "[prod] mlops-hooks-batch-inference"
        params: {{input: {VOLUMES}/customers, output: {VOLUMES}/predictions}}
"""


@pytest.mark.parametrize("tables_uri", [None, "s3://elsewhere/tables"])
def test_run_now_carries_the_policys_tables_never_a_local_path(
    tmp_path: Path, tables_uri: str | None
) -> None:
    """The policy's locations win; what it leaves out goes to the bundle's default (jobs on
    Databricks, no tables URI) or the deployment's MLOPS_HOOKS_TABLES_URI: never a path under
    this machine's state directory."""
    from tests.support.fakes import MemoryRegistry

    settings = {"jobs_backend": "databricks", "tables_uri": tables_uri}
    with over_databricks(tmp_path, POLICY_ON_VOLUMES, **settings) as (_, fake, dispatcher):
        registry = MemoryRegistry()  # the champion to score with (not what is tested here)
        registry.add("churn", "3", None)
        registry.aliases[("churn", "champion")] = "3"
        dispatcher.deps.registries = {"mlflow": registry}
        trained = dispatcher.process(dispatcher.submit(landed()).record.id)
        nightly = events.scheduled(
            "nightly", datetime(2026, 11, 24, 2, tzinfo=UTC), "batch_inference", model="churn"
        )
        scored = dispatcher.process(dispatcher.submit(nightly).record.id)
        assert trained.outcome["result"] == scored.outcome["result"] == "launched"
        train, batch = (c.json()["job_parameters"] for c in fake.calls("POST", f"{JOBS}/run-now"))
    assert train["features_table"] == f"{VOLUMES}/features"  # the policy's, not a local path
    assert batch["output"] == f"{VOLUMES}/predictions" and batch["input"] == f"{VOLUMES}/customers"
    if tables_uri is None:  # the bundle's ${var.tables_root} default applies
        assert "holdout_table" not in train
    else:
        assert train["holdout_table"] == f"{tables_uri}/churn/holdout"
    assert not [v for v in {**train, **batch}.values() if str(tmp_path) in v or ".mlops-hooks" in v]


def landed():
    return events.data_landed("landing", "churn/2026-11-23.csv", "seq-1")


def test_a_duplicate_event_never_starts_a_second_run(databricks) -> None:
    state, fake, dispatcher = databricks
    fake.fail_next("POST", f"{JOBS}/run-now", 429, retry_after=1)  # the SDK retries it
    first = dispatcher.submit(landed())
    assert not dispatcher.submit(landed()).created  # the S3 notification, delivered twice
    done = dispatcher.process(first.record.id)
    assert done.outcome["result"] == "launched", done.outcome
    calls = fake.calls("POST", f"{JOBS}/run-now")
    assert len(calls) == 2 and calls[0].json() == calls[1].json()  # the 429, then the retry
    sent = calls[-1].json()
    assert sent["job_id"] == 100 and len(sent["idempotency_token"]) <= 64
    assert sent["job_parameters"]["data"] == LANDED
    assert sent["job_parameters"]["estimator"] == "gradient_boosting"
    assert sent["job_parameters"]["event_id"] == first.record.id
    [run] = dispatcher.ledger.list_runs()
    assert (
        run.url.endswith(f"/#job/100/run/{run.run_id}")
        and done.outcome["data"]["runs"][0]["run_id"] == run.run_id
    )

    # replayed: the handler runs again, and the same token gets the same run from Databricks
    dispatcher.replay(first.record.id)
    again = dispatcher.process(first.record.id)
    assert again.outcome["data"]["runs"][0]["run_id"] == run.run_id
    tokens = {c.json()["idempotency_token"] for c in fake.calls("POST", f"{JOBS}/run-now")}
    assert tokens == {sent["idempotency_token"]}
    assert len(state.runs) == 1 and len(dispatcher.ledger.list_runs()) == 1


def test_the_reconcile_tick_reports_a_failed_run_once(databricks) -> None:
    state, _, dispatcher = databricks
    dispatcher.process(dispatcher.submit(landed()).record.id)
    [run] = dispatcher.ledger.list_runs()

    def tick(minute: int):
        when = datetime(2026, 11, 24, 2, minute, tzinfo=UTC)
        return dispatcher.process(
            dispatcher.submit(events.scheduled("reconcile", when, "reconcile")).record.id
        )

    assert tick(0).outcome["data"]["still running"] == [run.run_id]
    state.finish(int(run.run_id), "FAILED", "Task train failed: OutOfMemoryError")
    failed = tick(1)
    assert failed.outcome["data"]["failed"] == [run.run_id]
    [message] = dispatcher.deps.notifier.messages
    assert message.title == f"job train failed (run {run.run_id})"
    assert message.text == "Task train failed: OutOfMemoryError" and message.verdict == "failed"
    assert message.link_url.endswith(f"/run/{run.run_id}")
    saved = dispatcher.ledger.get_run(run.run_id)
    assert saved.state is RunState.FAILED and saved.reported
    assert tick(2).outcome["data"]["failed"] == []  # told once
    assert len(dispatcher.deps.notifier.messages) == 1


def test_an_unknown_job_name_is_a_permanent_error(databricks, tmp_path: Path) -> None:
    _, _, dispatcher = databricks
    dispatcher.deps.policy = parse_policy(POLICY.replace("[prod] mlops-hooks-train", "nope"))
    done = dispatcher.process(dispatcher.submit(landed()).record.id)
    assert done.status.value == "dead" and "no Databricks job named 'nope'" in done.last_error


def test_a_shadow_deployment_reaches_the_databricks_job_as_its_parameters(
    tmp_path: Path,
) -> None:
    """The policy's deployment, through run-now's job parameters, named as the bundle's
    batch_inference job declares them (and the wheel task hands them to the entry point)."""
    import yaml

    from tests.support.fakes import MemoryRegistry

    policy = POLICY_ON_VOLUMES.replace(
        "data: {watch: [{bucket: landing, prefix: churn/}]}",
        "data: {watch: [{bucket: landing, prefix: churn/}],"
        f" labels: {{table: {VOLUMES}/labels, id_column: customerID, label_column: Churn}}}}",
    ) + (
        "    deployment: {mode: split, challengers: [challenger, '7'],"
        " split: {champion: 80, challenger: 20}, assign_by: customerID}\n"
    )
    with over_databricks(tmp_path, policy, jobs_backend="databricks") as (_, fake, dispatcher):
        registry = MemoryRegistry()
        registry.add("churn", "3", None)
        registry.aliases[("churn", "champion")] = "3"
        dispatcher.deps.registries = {"mlflow": registry}
        nightly = events.scheduled(
            "nightly", datetime(2026, 11, 24, 2, tzinfo=UTC), "batch_inference", model="churn"
        )
        assert dispatcher.process(dispatcher.submit(nightly).record.id).status.value == "done"
        [call] = fake.calls("POST", f"{JOBS}/run-now")
    sent = call.json()["job_parameters"]
    assert sent["deployment"] == "split" and sent["challengers"] == "challenger,7"
    assert sent["split"] == "champion=80,challenger=20" and sent["assign_by"] == "customerID"
    assert sent["positive_label"] == "Yes"
    bundle = yaml.safe_load((ROOT / "infra" / "databricks" / "databricks.yml").read_text())
    job = bundle["resources"]["jobs"]["batch_inference"]
    declared = {p["name"] for p in job["parameters"]}
    assert set(sent) <= declared, set(sent) - declared
    handed = job["tasks"][0]["python_wheel_task"]["named_parameters"]
    from mlops_hooks.jobs.batch_inference import build_parser

    options = {o.lstrip("-") for o in build_parser()._option_string_actions}
    assert set(handed) <= options, set(handed) - options
    for name in sent:  # each parameter sent reaches the entry point under its option's name
        assert handed[name.replace("_", "-")] == f"{{{{job.parameters.{name}}}}}"
