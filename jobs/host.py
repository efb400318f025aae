"""The warm job host: local jobs run one after another in one long-lived process.

Why: a job started as its own ``python -m`` pays a JVM, Spark's start and MLflow's imports
(10-20 s on 2 cores) for seconds of work on a laptop-sized table. A Databricks all-purpose
cluster keeps these warm the same way. The host starts one SparkSession (Python workers are
reused between jobs) and runs each job module as ``python -m`` would (``runpy``, with its
``sys.argv``), its output appended to the run's log, its exit code in ``<run id>.exit``.

    python -m mlops_hooks.jobs.host <jobs folder>

Requests are files ``<folder>/queue/<run id>.json`` (``{"argv": [module, *args], "log":
path}``), written whole by shared/adapters/job_host.py and taken oldest first. While a job
runs, ``<run id>.running`` holds the host's pid (the request, claimed by a rename, is
``<run id>.taken-<pid>``). The host leaves when the process that
started it has gone and the queue is empty (a command that launched a run and ended leaves it
to finish), or when that process stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_hooks.shared.adapters.job_host import ready_marker, write_whole

POLL_SECONDS = 0.05


def next_request(queue: Path) -> Path | None:
    """The oldest waiting request (by its file's time, then name)."""
    waiting = list(queue.glob("*.json"))
    if not waiting:
        return None
    return min(waiting, key=lambda p: (p.stat().st_mtime_ns, p.name))


def run_one(argv: list[str], log_path: Path) -> int:
    """One job as ``python -m module args...`` would run it; its exit code."""
    module, args = argv[0], argv[1:]
    saved_argv = sys.argv
    sys.argv = [module, *args]
    with (
        log_path.open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=False)
            return 0
        except SystemExit as exc:
            code = exc.code
            if code is None:
                return 0
            if isinstance(code, int):
                return code
            print(code, file=sys.stderr)
            return 1
        except BaseException:
            traceback.print_exc()
            return 1
        finally:
            sys.argv = saved_argv
            log.flush()


def _give_back_memory() -> None:
    """Between runs: a full collection in the JVM and here, so that an idle host holds what it
    needs rather than its largest run's peak (the JVM hands freed heap back to the system
    within its -XX:MaxHeapFreeRatio)."""
    import gc

    gc.collect()
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.sparkContext._jvm.System.gc()
    except Exception as exc:  # only memory is at stake
        print(f"collection skipped: {type(exc).__name__}: {exc}", flush=True)


class _Stop:
    """SIGTERM (the owner's ``close``): leave now when idle, else once the current run ends;
    the run is not cut short, as a job in its own process was not by a stopped ``serve``."""

    def __init__(self) -> None:
        self.asked = False
        self.busy = False
        signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, *_: object) -> None:
        self.asked = True
        if not self.busy:
            raise SystemExit(0)


def _claim(request: Path) -> Path | None:
    """Take a request for this host (an atomic rename: two hosts never run one request)."""
    taken = request.with_name(f"{request.stem}.taken-{os.getpid()}")
    try:
        os.replace(request, taken)
    except FileNotFoundError:
        return None
    return taken


def serve_queue(folder: Path, parent: int) -> None:
    """Run the queued requests until SIGTERM, or until ``parent`` (the pid that started this
    host) has gone and nothing is queued."""
    queue = folder / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    stop = _Stop()
    while not stop.asked:
        request = next_request(queue)
        if request is None:
            if os.getppid() != parent:
                return  # whoever started it has gone, and nothing is left to run
            time.sleep(POLL_SECONDS)
            continue
        stop.busy = True
        taken = _claim(request)
        if taken is None:  # another host took it
            stop.busy = False
            continue
        run_id = request.stem
        running = folder / f"{run_id}.running"
        write_whole(running, str(os.getpid()))
        try:
            asked = json.loads(taken.read_text())
            code = run_one(list(asked["argv"]), Path(asked["log"]))
        except (OSError, ValueError, KeyError) as exc:  # a torn or foreign file: that run fails
            print(f"request {request.name}: {exc}", file=sys.stderr, flush=True)
            code = 1
        taken.unlink(missing_ok=True)
        _give_back_memory()
        write_whole(folder / f"{run_id}.exit", str(code))
        running.unlink(missing_ok=True)
        stop.busy = False


# what the first run of each job would otherwise import (seconds on 2 cores)
WARM_IMPORTS = (
    "mlflow",
    "mlflow.sklearn",
    "skops.io",  # the format mlflow.sklearn logs the models in (0.85 s of the first train)
    "mlflow.data",
    "sklearn.pipeline",
    "sklearn.ensemble",
    "deltalake",
    "mlops_hooks.jobs.train",
    "mlops_hooks.jobs.batch_inference",
    "mlops_hooks.jobs.drift_check",
    "mlops_hooks.shared.domain.training",
)


def _in_worker(batches: Iterator[Any]) -> Iterator[Any]:
    """Run in each Python worker once: the imports scoring needs stay in the reused worker
    (a scikit-learn model is broadcast to it: no MLflow, jobs/batch_inference.ship_model)."""
    import pandas  # noqa: F401
    import sklearn.pipeline  # noqa: F401

    yield from batches


def warm_up() -> None:
    """The session every job's spark_session() finds, its Arrow path and Python workers used
    once, and the jobs' imports; a failure here only costs the first run its warmth."""
    import threading

    from mlops_hooks.shared.adapters.spark_tables import spark_session

    # the jobs' imports in a thread, while the JVM starts and the first Python worker imports
    # in their own processes (the demo's first run waited 12 s for this warm-up, then ~7)
    importing = threading.Thread(target=_import_jobs, name="warm-imports", daemon=True)
    importing.start()
    try:
        spark = spark_session("mlops-hooks-jobs")
        frame = spark.range(0, 2, numPartitions=spark.sparkContext.defaultParallelism)
        frame.mapInArrow(_in_worker, frame.schema).toPandas()  # the batch job's path
    except Exception as exc:  # Spark cannot start here: each job says so in its own log
        print(f"warm-up incomplete: {type(exc).__name__}: {exc}", flush=True)
    importing.join()


def _import_jobs() -> None:
    import importlib

    try:
        for module in WARM_IMPORTS:
            importlib.import_module(module)
    except Exception as exc:  # the job that needs it imports it again, and says why not
        print(f"warm-up imports incomplete: {type(exc).__name__}: {exc}", flush=True)


def main() -> None:
    folder = Path(sys.argv[1])
    parent = os.getppid()  # now: it may be gone before the warm-up ends
    # off for entry points that use no Spark (and the unit tests' dummy job)
    if os.environ.get("MLOPS_HOOKS_JOB_HOST_WARM_UP", "true").lower() not in ("0", "false"):
        warm_up()
    print(f"job host {os.getpid()} ready", flush=True)
    ready = ready_marker(folder, os.getpid())
    write_whole(ready, "")
    try:
        serve_queue(folder, parent)
    finally:
        ready.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
