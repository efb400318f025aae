"""`mlops-hooks serve` on a full disk: webhooks get a 503 (their senders retry), nothing
accepted is lost, the ledger's checkpointer says once that it failed and again when it works,
and everything works again once there is room, without a restart.

A full disk, for one process and without mounting anything: RLIMIT_FSIZE set on the running
`serve` with prlimit(2). Every write past the limit's offset then fails (EFBIG; Python ignores
SIGXFSZ), in the ledger's WAL and database file as in the logs.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import httpx
import pytest

from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.ports.ledger import Status
from tests.conftest import WEBHOOK_SECRET
from tests.support.handlers import read_log
from tests.support.http import HTTP, post_mlflow_webhook
from tests.support.processes import Proc, wait_for

pytestmark = pytest.mark.skipif(
    not hasattr(resource, "prlimit"), reason="needs prlimit(2) (Linux) to fill a disk"
)

TEST_HANDLERS = "tests.support.handlers:HANDLERS"
FULL = 4096  # bytes: no file of the process can grow past its first page


def post_registered(serve: Proc, version: int) -> httpx.Response:
    body = json.dumps(
        {
            "entity": "model_version",
            "action": "created",
            "timestamp": "2026-12-07T04:00:00+00:00",
            "data": {"name": "churn", "version": str(version), "source": "s", "run_id": "r"},
        }
    ).encode()
    return post_mlflow_webhook(f"{serve.url}/webhooks/mlflow", body, WEBHOOK_SECRET)


def set_file_size_limit(serve: Proc, soft: int) -> None:
    _, hard = resource.prlimit(serve.popen.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(serve.popen.pid, resource.RLIMIT_FSIZE, (soft, hard))


def all_done(ledger: SqliteLedger, count: int) -> bool:
    found = ledger.list(kind=EventKind.MODEL_REGISTERED, limit=100)
    return len(found) == count and all(r.status is Status.DONE for r in found)


def test_a_full_disk_costs_retries_never_an_accepted_event(start_serve, tmp_path: Path) -> None:
    state, handler_log = tmp_path / "state", tmp_path / "handler.log"
    serve = start_serve(
        state_dir=state,
        MLOPS_HOOKS_HANDLER_MODULES=TEST_HANDLERS,
        MLOPS_TEST_LOG=str(handler_log),
        MLOPS_HOOKS_POLL_SECONDS="0.05",
        MLOPS_HOOKS_LEDGER_CHECKPOINT_SECONDS="1",  # four failing rounds below, not none
    )
    [ledger_file] = state.glob("*.db")
    before = [post_registered(serve, v) for v in range(1, 11)]
    assert [r.status_code for r in before] == [202] * 10
    wait_for(lambda: len(read_log(handler_log)) >= 20, 30, "the ten to be handled")

    set_file_size_limit(serve, FULL)
    try:
        refused = [post_registered(serve, v) for v in range(11, 16)]
        # another process (the CLI, say) writes the ledger meanwhile: serve's checkpointer
        # now has frames to copy into a database file that cannot grow
        other = SqliteLedger(ledger_file)
        try:
            other.record(
                events.ignored(Source.CLI, "d-meanwhile", "written while serve's disk is full"),
                now=time.time(),
            )
        finally:
            other.close()
        time.sleep(4)  # checkpoint rounds (one a second), all failing
        assert serve.popen.poll() is None, "serve died of a full disk"
    finally:
        set_file_size_limit(serve, resource.RLIM_INFINITY)

    for answer in refused:
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error.startswith("could not record the event (") and error.endswith("); retry")
        assert "\n" not in error

    # the checkpointer failed while the disk was full (that warning could not be written) and
    # says so once it copies again
    wait_for(
        lambda: "ledger checkpoints work again" in serve.log.read_text(),
        15,
        "the checkpointer to recover",
    )
    assert serve.log.read_text().count("ledger checkpoints work again") == 1

    # the senders retry: recorded now, as first deliveries
    retried = [post_registered(serve, v) for v in range(11, 16)]
    assert [r.status_code for r in retried] == [202] * 5, [r.text for r in retried]
    assert not any(r.json()["duplicate"] for r in retried)
    reader = SqliteLedger(ledger_file)
    try:
        wait_for(lambda: all_done(reader, 15), 30, "the retried five to be handled")
        versions = [r.version for r in reader.list(kind=EventKind.MODEL_REGISTERED, limit=100)]
        assert sorted(map(int, versions)) == list(range(1, 16))  # each once
        [meanwhile] = reader.list(kind=EventKind.IGNORED)
        assert meanwhile.event.reason == "written while serve's disk is full"
    finally:
        reader.close()
    assert HTTP.get(f"{serve.url}/healthz").status_code == 200
