"""LocalJobs: real subprocesses, run state in a real SQLite ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_hooks.shared.adapters.job_host import alive
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.adapters.local_jobs import LocalJobs, command_line
from mlops_hooks.shared.domain.policy import Job
from mlops_hooks.shared.ports.ledger import RunState
from tests.support.fakes import FixedClock
from tests.support.processes import wait_for

NO_SPARK = {"MLOPS_HOOKS_JOB_HOST_WARM_UP": "false"}  # the dummy job needs no Spark warmed
SPEC = Job(entry_point="tests.support.dummy_job", params={"rows": "7"})


def test_command_line_uses_the_bundles_option_names() -> None:
    args = command_line(
        "mlops_hooks.jobs.train", {"features_table": "/t", "event_id": "ev_1"}, "py"
    )
    assert args == [
        "py",
        "-m",
        "mlops_hooks.jobs.train",
        "--features-table",
        "/t",
        "--event-id",
        "ev_1",
    ]


@pytest.mark.parametrize("warm", [False, True], ids=["own-process", "warm-host"])
def test_one_run_per_token_its_result_and_a_failure_with_its_reason(
    tmp_path: Path, warm: bool
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    jobs = LocalJobs(ledger, tmp_path / "jobs", FixedClock(), warm=warm, env=NO_SPARK)
    run = jobs.launch("train", SPEC, {"event_id": "ev_1"}, token="tok-1", event_id="ev_1")
    again = jobs.launch("train", SPEC, {"event_id": "ev_1"}, token="tok-1", event_id="ev_1")
    assert again.run_id == run.run_id  # the same token: the run that exists
    done = wait_for(lambda: (r := ledger.get_run(run.run_id)).state.finished and r, 30, "run")
    assert done.state is RunState.SUCCESS and done.result == {"rows": 7, "event": "ev_1"}
    assert "$ " in Path(done.log_path).read_text().splitlines()[0]

    bad = jobs.launch("train", SPEC, {"outcome": "broken"}, token="tok-2", event_id="ev_2")
    failed = wait_for(lambda: (r := ledger.get_run(bad.run_id)).state.finished and r, 30, "fail")
    assert failed.state is RunState.FAILED
    assert failed.message == "exit code 2: error: asked to fail (broken)"
    assert {r.run_id for r in ledger.list_runs()} == {bad.run_id, run.run_id}
    if warm:  # both runs went to one host, which its owner stops by its pid
        assert run.pid == bad.pid and "ready" in (tmp_path / "jobs" / "host.log").read_text()
        jobs.close()
        assert wait_for(lambda: not alive(run.pid), 15, "the host to stop")
    ledger.close()


def test_a_warm_hosts_runs_are_settled_by_a_later_process_and_a_queued_one_is_cancelled(
    tmp_path: Path,
) -> None:
    """serve restarted: its host's finished run is read from the exit file; a run still queued
    with no host to take it fails, and is taken out of the queue so that no host starts it."""
    ledger = SqliteLedger(tmp_path / "ledger.db")
    jobs = LocalJobs(ledger, tmp_path / "jobs", FixedClock(), warm=True, env=NO_SPARK)
    run = jobs.launch("train", SPEC, {}, token="tok-4", event_id="ev_4")
    wait_for(lambda: ledger.get_run(run.run_id).state.finished, 60, "run")
    jobs.close()
    orphan = ledger.get_run(run.run_id).model_copy(update={"state": RunState.RUNNING})
    ledger.save_run(orphan)
    later = LocalJobs(ledger, tmp_path / "jobs", FixedClock(), warm=True, env=NO_SPARK)
    settled = later.refresh(orphan)
    assert settled.state is RunState.SUCCESS and settled.result["rows"] == 7

    queued = orphan.model_copy(
        update={
            "run_id": "local-queued",
            "token": "tok-5",
            "log_path": str(tmp_path / "jobs" / "local-queued.log"),
            "result": {},
        }
    )
    later.host.queue.mkdir(parents=True, exist_ok=True)
    (later.host.queue / "local-queued.json").write_text('{"argv": [], "log": "x"}')
    ledger.save_run(queued)
    assert later.refresh(queued).state is RunState.FAILED
    assert not (later.host.queue / "local-queued.json").exists()
    ledger.close()


def test_refresh_settles_a_run_whose_watcher_died_with_its_process(tmp_path: Path) -> None:
    """serve restarted while a job ran: the reconcile tick finds the pid gone and reads the log."""
    ledger = SqliteLedger(tmp_path / "ledger.db")
    jobs = LocalJobs(ledger, tmp_path / "jobs", FixedClock())
    run = jobs.launch("train", SPEC, {}, token="tok-3", event_id="ev_3")
    wait_for(lambda: ledger.get_run(run.run_id).state.finished, 30, "run")
    orphan = ledger.get_run(run.run_id).model_copy(update={"state": RunState.RUNNING})
    ledger.save_run(orphan)  # as if no watcher had recorded the end
    settled = LocalJobs(ledger, tmp_path / "jobs", FixedClock()).refresh(orphan)
    assert settled.state is RunState.SUCCESS and settled.result["rows"] == 7
    ledger.close()


def test_stopping_a_warm_host_lets_its_running_run_finish_and_fails_a_queued_one(
    tmp_path: Path,
) -> None:
    """``serve`` stopping (its close) does not cut a training run short: the host ends after
    it. A run queued behind it is failed, saying why, and taken out of the queue (no later host
    starts it late)."""
    ledger = SqliteLedger(tmp_path / "ledger.db")
    jobs = LocalJobs(ledger, tmp_path / "jobs", FixedClock(), warm=True, env=NO_SPARK)
    jobs.start_host(wait_seconds=60)  # back once the host is warm: its marker says so
    assert [p.name for p in (tmp_path / "jobs").glob("host-*.ready")] == [
        f"host-{jobs.host.start()}.ready"
    ]
    slow = jobs.launch("train", SPEC, {"sleep": "3"}, token="tok-6", event_id="ev_6")
    wait_for(lambda: (tmp_path / "jobs" / f"{slow.run_id}.running").exists(), 30, "started")
    queued = jobs.launch("train", SPEC, {}, token="tok-7", event_id="ev_7")
    jobs.close()  # SIGTERM to the host while its run sleeps
    # not cut short: the run that was running when the host was told to stop succeeds
    done = wait_for(lambda: (r := ledger.get_run(slow.run_id)).state.finished and r, 30, "run")
    assert done.state is RunState.SUCCESS and done.result["rows"] == 7
    wait_for(lambda: not alive(slow.pid), 15, "the host to leave after its run")
    assert not list((tmp_path / "jobs").glob("host-*.ready"))  # gone with the host
    failed = wait_for(lambda: (r := ledger.get_run(queued.run_id)).state.finished and r, 30, "q")
    assert failed.state is RunState.FAILED
    assert failed.message.startswith(f"the job host ({slow.pid}) ended before this run ended")
    assert not (tmp_path / "jobs" / "queue" / f"{queued.run_id}.json").exists()
    ledger.close()
