"""Session-wide real servers: moto (S3/SQS/SNS/DynamoDB) and an MLflow 3 tracking server.

Each is a subprocess started once per test session and stopped by its own pid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_hooks.functions.demo.stack import SMALL_SPARK
from tests.support.processes import (
    Proc,
    free_port,
    start_mlflow_server,
    start_moto_server,
    start_serve_process,
    webhook_cache_expired,
)

# The longest files first (seconds each on 2 workers, 2026-12-05), the rest after them in
# collection order; `make test` turns off xdist's own order (files with the most tests first),
# which left these single long tests for the end: one worker ran alone for the last ~60 s
LONGEST_FIRST = (
    "tests/e2e/test_demo.py",  # 75 s: the whole demo, and one interrupted
    "tests/integration/test_packaging.py",  # 55 s: fresh venvs, pip installs, the worker set
    "tests/integration/test_aws_rehearsal.py",  # 42 s
    "tests/integration/test_sweep_serve.py",  # 41 s
    "tests/integration/test_webhooks_check.py",  # 38 s
    "tests/integration/test_jobs_flow.py",  # 37 s
    "tests/integration/test_mlflow_workspaces.py",  # 36 s
    "tests/integration/test_readme_local.py",  # 26 s
    "tests/integration/test_validation_flow.py",  # 23 s
    "tests/integration/test_approval_flow.py",  # 20 s
    "tests/integration/test_policy_reload.py",  # 20 s
    "tests/integration/test_promotion_flow.py",  # 19 s
    "tests/integration/test_drift_spark.py",  # 18 s
    "tests/e2e/test_ui_browser.py",  # 17 s
)

# The files that mostly wait (retry back-offs, a webhook cache, polling; their own CPU 30-80 %
# of their wall time alone, 2026-12-06), spread between the long ones above: left in collection
# order they ran side by side near the end, with the 2 cores 60-75 % busy
MOSTLY_WAITING = (
    "tests/integration/test_slack_notifier.py",
    "tests/integration/test_databricks_jobs.py",
    "tests/integration/test_databricks_registry.py",
    "tests/integration/test_databricks_register.py",
    "tests/integration/test_serve_lifecycle.py",
    "tests/integration/test_databricks_sweep.py",
    "tests/integration/test_mlflow_webhooks.py",
    "tests/integration/test_live_promotion.py",
    "tests/integration/test_aws_functions.py",
    "tests/integration/test_sqs_worker.py",
)


def file_order() -> tuple[str, ...]:
    """LONGEST_FIRST with MOSTLY_WAITING between them, one after each long file from the third
    (the first two start the run, one on each worker)."""
    waiting = iter(MOSTLY_WAITING)
    order = [*LONGEST_FIRST[:2]]
    for path in LONGEST_FIRST[2:]:
        order.append(path)
        if after := next(waiting, None):
            order.append(after)
    return (*order, *waiting)


# The files that compute on the suite's local Spark session (the `spark` fixture): one unit of
# work for xdist, so one worker starts that JVM (~6 s of CPU) instead of both
ON_LOCAL_SPARK = frozenset(
    {
        "tests/integration/test_batch_shadow.py",
        "tests/integration/test_drift_spark.py",
        "tests/integration/test_features.py",
        "tests/integration/test_spark_arrow.py",
        "tests/integration/test_spark_classes.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = file_order()
    if gone := [path for path in (*order, *ON_LOCAL_SPARK) if not (ROOT / path).is_file()]:
        raise pytest.UsageError(f"tests/conftest.py lists files that are not there: {gone}")
    rank = {path: i for i, path in enumerate(order)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable
    for item in items:
        path = item.nodeid.split("::")[0]
        if "spark" in getattr(item, "fixturenames", ()) and path not in ON_LOCAL_SPARK:
            raise pytest.UsageError(f"{path} uses the spark fixture: list it in ON_LOCAL_SPARK")


@pytest.hookimpl(optionalhook=True)  # a plain `pytest -p no:xdist` has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """xdist's loadfile, with the ON_LOCAL_SPARK files as one scope (hand-written: xdist
    groups by file, by marked group (which renames every test) or by test, not by fixture)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SparkFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "local-spark" if scope in ON_LOCAL_SPARK else scope

    return SparkFilesTogether(config, log)


# boto3 must never reach real AWS from the suite.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    MLFLOW_DISABLE_TELEMETRY="true",
    DO_NOT_TRACK="true",
)
for name in list(os.environ):
    if name.startswith("MLOPS_HOOKS_"):
        del os.environ[name]
# the suite's tables are small, as the demo's: its local Spark (in-process and in the jobs the
# serves launch) is the demo's, a third less CPU on these 2 cores
os.environ.update(SMALL_SPARK)
# The processes the suite starts (serve, jobs) load test handlers and jobs from tests/support:
# the repository root is on their path (the installed package is found by its own finder).
ROOT = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)

WEBHOOK_SECRET = "test-webhook-secret"


# MLflow exports these to the environment (mlflow.set_tracking_uri / set_registry_uri, as
# MlflowRegistry calls them; WorkspaceContext), and DatabricksRegistry hands MLflow its workspace
# through DATABRICKS_HOST / _TOKEN: a test that leaves one behind would point every later
# subprocess (serve, the CLI) at its server, long gone (a serve would sweep a dead fake).
MLFLOW_PROCESS_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_WORKSPACE",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    # a command run in-process (CliRunner) bounds its server waits through these
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    "MLOPS_HOOKS_DATABRICKS_RETRY_TIMEOUT_SECONDS",
)


@pytest.fixture(autouse=True)
def _mlflow_env_restored() -> Iterator[None]:
    import mlflow

    before = {name: os.environ.get(name) for name in MLFLOW_PROCESS_ENV}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    # and the module globals behind them (the next test sets its own)
    mlflow.set_tracking_uri(before["MLFLOW_TRACKING_URI"] or None)
    mlflow.set_registry_uri(before["MLFLOW_REGISTRY_URI"] or "")


# fixtures shared by several test modules
pytest_plugins = ["tests.support.promotion"]


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def moto_server(session_dir: Path) -> Iterator[str]:
    proc = start_moto_server(session_dir)
    try:
        yield proc.url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def mlflow_server(session_dir: Path) -> Iterator[Proc]:
    proc = start_mlflow_server(session_dir)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def own_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """An MLflow server for one test module alone: a sweeping `serve` acts on every version its
    look-back finds, which on the session's shared server would be other tests' versions."""
    proc = start_mlflow_server(tmp_path_factory.mktemp("own-mlflow"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start `mlops-hooks serve` subprocesses; all are stopped when the test ends."""
    started: list[Proc] = []

    def _start(*, state_dir: Path | None = None, port: int | None = None, **env: str) -> Proc:
        port = port or free_port()
        state = state_dir or tmp_path / "state"
        full_env = {
            "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MLOPS_HOOKS_STATE_DIR": str(state),
            "MLOPS_HOOKS_POLL_SECONDS": "0.2",
            # the tests share one MLflow server: a serve sweeps (and so validates, promotes)
            # only where its test asks for it
            "MLOPS_HOOKS_SWEEP_SECONDS": "0",
            # nor a reconcile tick every minute: a test counting its handler's runs (the
            # recording handlers take `scheduled` too) saw one more whenever it spanned a
            # minute boundary (CI, 2026-12-07: start, start, done, start, done after SIGKILL)
            "MLOPS_HOOKS_RECONCILE_CRON": "",
            # no warm-up (~4.5 s of CPU importing MLflow and scikit-learn) in the serves that
            # never validate; validating_serve's, which do, warm up as a user's serve does
            "MLOPS_HOOKS_WARM_UP": "false",
            **env,
        }
        proc = start_serve_process(f"serve-{port}-{len(started)}", tmp_path, full_env, port)
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def churn(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, object]:
    """(training frame, holdout CSV path, a trained classifier): Telco, or generated."""
    from mlops_hooks.shared.domain import churn_data
    from tests.support.churn import split, telco

    train, holdout = split(telco())
    folder = tmp_path_factory.mktemp("churn")
    holdout_csv = folder / "holdout.csv"
    holdout.to_csv(holdout_csv, index=False)
    return train, holdout_csv, churn_data.train_classifier(train)


def webhook_env(mlflow_server: Proc, state: Path, **extra: str) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MLOPS_HOOKS_STATE_DIR": str(state),
        **extra,
    }


@pytest.fixture
def validating_serve(
    mlflow_server: Proc, start_serve: Callable[..., Proc], tmp_path: Path
) -> Iterator[Callable[..., Proc]]:
    """Start `serve` against the MLflow server and register its webhook (removed after)."""
    from mlflow import MlflowClient

    from tests.support.cli_here import cli_here

    client = MlflowClient(tracking_uri=mlflow_server.url)
    hooks: list[str] = []

    def _start(**env: str) -> Proc:
        state = tmp_path / f"state-{len(hooks)}"
        full = webhook_env(mlflow_server, state, **{"MLOPS_HOOKS_WARM_UP": "true", **env})
        serve = start_serve(state_dir=state, **full)
        url = f"{serve.url}/webhooks/mlflow"
        # in-process: every test that starts a serve would pay ~2 s of CPU for a new
        # interpreter (tests/integration/test_mlflow_webhooks.py runs the installed command)
        done = cli_here("webhooks", "register", "--url", url, env=full, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        hooks.extend(h.webhook_id for h in client.list_webhooks() if h.url == url)
        webhook_cache_expired()
        return serve

    yield _start
    for hook in hooks:
        client.delete_webhook(hook)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for every test that computes with Spark in-process."""
    from mlops_hooks.shared.adapters.spark_tables import spark_session

    session = spark_session("mlops-hooks-tests")
    yield session
    session.stop()
