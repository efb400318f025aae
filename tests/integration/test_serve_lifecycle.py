"""`mlops-hooks serve` as a process: retries, dead events, replay, and SIGKILL recovery."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import psutil

from tests.conftest import WEBHOOK_SECRET
from tests.support.handlers import read_log
from tests.support.http import HTTP, post_mlflow_webhook
from tests.support.processes import Proc, cli, free_port, wait_for

TEST_HANDLERS = "tests.support.handlers:HANDLERS"


def post_registered(serve: Proc, version: str = "1") -> dict:
    body = json.dumps(
        {
            "entity": "model_version",
            "action": "created",
            "timestamp": "2026-11-23T10:00:00+00:00",
            "data": {
                "name": "churn",
                "version": version,
                "source": "s",
                "run_id": "r",
                "tags": {},
                "description": None,
            },
        }
    ).encode()
    response = post_mlflow_webhook(f"{serve.url}/webhooks/mlflow", body, WEBHOOK_SECRET)
    assert response.status_code == 202, response.text
    return response.json()


def event(serve: Proc, event_id: str) -> dict:
    return HTTP.get(f"{serve.url}/events/{event_id}").json()


def test_failing_handler_backs_off_goes_dead_and_replay_runs_it_again(
    start_serve, tmp_path: Path
) -> None:
    log, fail = tmp_path / "handler.log", tmp_path / "fail"
    fail.touch()
    serve = start_serve(
        MLOPS_HOOKS_HANDLER_MODULES=TEST_HANDLERS,
        MLOPS_TEST_LOG=str(log),
        MLOPS_TEST_FAIL=str(fail),
        MLOPS_HOOKS_MAX_ATTEMPTS="3",
        MLOPS_HOOKS_RETRY_BASE_SECONDS="0.4",
        MLOPS_HOOKS_POLL_SECONDS="0.05",
    )
    event_id = post_registered(serve)["id"]
    dead = wait_for(lambda: (e := event(serve, event_id))["status"] == "dead" and e, 30, "dead")
    assert dead["attempts"] == 3  # type: ignore[index]
    assert dead["last_error"] == "RuntimeError: told to fail"  # type: ignore[index]
    runs = [
        datetime.fromisoformat(h["at"])
        for h in dead["history"]  # type: ignore[index]
        if h["status"] == "running"
    ]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(runs)]
    assert len(runs) == 3 and gaps[0] >= 0.4 and gaps[1] >= 0.8  # exponential backoff
    assert [line[0] for line in read_log(log)] == ["start"] * 3

    listed = cli("events", "list", "--status", "dead", "--json", env=serve.env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [e["id"] for e in json.loads(listed.stdout)] == [event_id]

    fail.unlink()
    replay = cli("events", "replay", event_id, env=serve.env, cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    done = wait_for(lambda: (e := event(serve, event_id))["status"] == "done" and e, 30, "done")
    assert done["attempts"] == 1  # type: ignore[index]
    assert [line[0] for line in read_log(log)] == ["start"] * 4 + ["done"]


def test_sigkill_after_ack_before_handler_finished_processes_the_event_once(
    start_serve, tmp_path: Path
) -> None:
    log, block = tmp_path / "handler.log", tmp_path / "block"
    block.touch()
    env = {
        "MLOPS_HOOKS_HANDLER_MODULES": TEST_HANDLERS,
        "MLOPS_TEST_LOG": str(log),
        "MLOPS_TEST_BLOCK": str(block),
        # short, so the restarted serve reclaims soon; not shorter: a heartbeat (every third
        # of it) starved past the lease by a busy machine lets the first serve reclaim its own
        # event before the kill (seen once with 2 s, in a suite run on 2 cores 97% busy)
        "MLOPS_HOOKS_LEASE_SECONDS": "3",
    }
    port = free_port()
    first = start_serve(port=port, **env)
    event_id = post_registered(first)["id"]  # acknowledged: it is in the ledger
    wait_for(lambda: read_log(log), 30, "the handler to start")
    first.kill()  # SIGKILL mid-handler
    assert first.popen.returncode == -9

    block.unlink()
    second = start_serve(port=port, **env)
    done = wait_for(
        lambda: (e := event(second, event_id))["status"] == "done" and e,
        20,
        "the event to be processed after restart",
    )
    lines = read_log(log)
    assert [line[0] for line in lines] == ["start", "start", "done"]
    assert {line[1] for line in lines} == {event_id}
    assert done["attempts"] == 2  # type: ignore[index]
    assert any(h.get("note") == "lease expired; reclaimed" for h in done["history"])  # type: ignore[index]
    time.sleep(1)
    assert [line[0] for line in read_log(log)].count("done") == 1


def mapped_files(proc: Proc) -> str:
    return Path(f"/proc/{proc.popen.pid}/maps").read_text()


def test_the_warm_up_imports_ahead_only_when_it_is_on(
    start_serve, mlflow_server: Proc, tmp_path: Path
) -> None:
    """`serve` imports what a first validation needs on its warm-up thread (scikit-learn's
    extension modules are then mapped in the process); MLOPS_HOOKS_WARM_UP=false leaves that
    to the first event. The cold serve starts first, so it had at least as long."""
    url = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    cold = start_serve(state_dir=tmp_path / "cold", MLOPS_HOOKS_WARM_UP="false", **url)
    warm = start_serve(state_dir=tmp_path / "warm", MLOPS_HOOKS_WARM_UP="true", **url)
    wait_for(lambda: "/sklearn/" in mapped_files(warm), 120, "the warm serve's imports")
    assert "/sklearn/" not in mapped_files(cold)
    assert HTTP.get(f"{cold.url}/healthz").status_code == 200


def test_serves_temporary_files_go_with_it_even_when_it_was_killed(
    start_serve, tmp_path: Path
) -> None:
    """Everything serve writes through tempfile (a validation's model copy, MLflow's plots) is
    under one folder of its own: removed when it stops, or by the next serve once killed."""
    temp = tmp_path / "tmp"
    temp.mkdir()

    def folders() -> list[Path]:
        return sorted(temp.glob("mlops-hooks-serve-*"))

    killed = start_serve(TMPDIR=str(temp))
    [first] = folders()
    assert first.name.split("-")[4] == str(killed.popen.pid)
    (first / "mlops-hooks-model-x").mkdir()  # a validation's model copy, say
    killed.kill()  # SIGKILL: nothing of it can clean up
    assert folders() == [first]

    second = start_serve(TMPDIR=str(temp))
    [own] = folders()
    assert own != first and own.name.split("-")[4] == str(second.popen.pid)
    assert "removed the temporary files of 1 stopped serve(s)" in second.output()
    second.stop()  # SIGTERM: a clean stop, through serve's own cleanup
    assert folders() == []
    assert second.popen.returncode == -signal.SIGTERM  # and still ended by the signal


def wal_sync_helpers(serve: Proc) -> list[psutil.Process]:
    children = psutil.Process(serve.popen.pid).children()
    return [c for c in children if any(a.endswith("ledger.db-wal") for a in c.cmdline())]


def test_the_ledgers_sync_helper_ends_with_serve_even_when_serve_alone_was_killed(
    start_serve, tmp_path: Path
) -> None:
    """serve syncs the ledger's log from one helper process (shared/adapters/wal_sync.py); it
    stops with serve, and ends by itself when serve was killed (it is not in serve's process
    group: a signal to that group must not end it while serve still commits)."""
    first = start_serve(port=(port := free_port()))
    [helper] = wal_sync_helpers(first)
    event_id = post_registered(first)["id"]  # answered once the helper synced its batch
    os.kill(first.popen.pid, signal.SIGKILL)  # serve alone, as an OOM killer would
    first.popen.wait(timeout=10)
    helper.wait(timeout=10)  # its requests pipe closed: it ends

    second = start_serve(port=port)
    [helper] = wal_sync_helpers(second)
    assert event(second, event_id)["id"] == event_id
    second.stop()  # SIGTERM to serve's process group; the helper has a group of its own
    helper.wait(timeout=10)  # serve closed its writer (or ended): the helper is gone
