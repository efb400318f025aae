"""The registry sweep on a real MLflow 3 server holding 1,000 registered models x 3 versions
(issue 15): an idle sweep (nothing new) and a sweep that finds 10 new versions, wall time and
registry calls each; then detection by a real `serve --poll-only` (no webhook, the default 10 s
tick): seconds from a version's creation to its event in the ledger, and whether the first tick
after the creation found it.

Baseline, measured in the same run: a sweep without server-side ordering, which lists every
version and every registered model (its cost grows with the registry, not with the changes).
Reference (documented, not measured here): Databricks model update triggers poll about once a
minute and hand a job at most 9 updates per run.

    python bench/sweep.py [--models 1000] [--detections 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from bench.results_format import Target, all_met, write  # noqa: E402
from mlops_hooks.shared.adapters.mlflow_registry import MlflowRegistry  # noqa: E402
from mlops_hooks.shared.domain import events  # noqa: E402
from tests.support.fakes import FixedClock, dispatcher_over  # noqa: E402
from tests.support.processes import start_mlflow_server, start_serve_process  # noqa: E402

VERSIONS_PER_MODEL = 3
TICK_SECONDS = 10.0  # the default MLOPS_HOOKS_SWEEP_SECONDS
SOURCE = "s3://bench/model"  # the sweep reads registry metadata only: no artifacts needed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--detections", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        return run(Path(folder), args.models, args.detections)


def run(tmp: Path, models: int, detections: int) -> int:
    populate(tmp / "mlflow" / "mlflow.db", models)  # the server's own database, before it starts
    mlflow = start_mlflow_server(tmp)
    try:
        client = MlflowClient(tracking_uri=mlflow.url, registry_uri=mlflow.url)
        sweeps = measure_sweeps(tmp, mlflow.url, client, models)
        baseline = full_listing(client)
        detected = measure_detection(tmp, mlflow.url, client, detections)
    finally:
        mlflow.stop()

    idle, ten = sweeps["idle"], sweeps["ten_new"]
    print(
        f"\nidle sweep: {idle['median_s'] * 1000:.0f} ms median, {idle['calls']} registry calls"
        f"\n10 new versions: {ten['seconds'] * 1000:.0f} ms, {ten['calls']} calls, "
        f"{ten['raised']} events raised"
        f"\nbaseline, every version and model listed: {baseline['seconds'] * 1000:.0f} ms, "
        f"{baseline['calls']} calls ({baseline['versions']} versions read); "
        f"idle sweep / baseline time {idle['median_s'] / baseline['seconds']:.2f}"
        f"\ndetection by serve's {TICK_SECONDS:g} s tick: max {detected['max_s']:.1f} s, "
        f"median {detected['median_s']:.1f} s; found by the first tick after creation: "
        f"{detected['first_tick']} of {detected['versions']}"
        "\nreference: Databricks model update triggers poll about every 60 s, "
        "at most 9 updates per run"
    )
    targets = [
        Target("idle sweep wall time", idle["median_s"], "s", "<=", 1.0),
        Target("idle sweep registry calls", idle["calls"], "calls", "<=", 5),
        Target("10 new versions: events raised", ten["raised"], "events", ">=", 10),
        Target(
            "found by the first tick after creation",
            detected["first_tick"] / detected["versions"],
            "ratio",
            ">=",
            1.0,
        ),
        Target("detection, worst case", detected["max_s"], "s", "<=", TICK_SECONDS + 2),
    ]
    write(
        "sweep",
        targets,
        registry={"models": models, "versions": models * VERSIONS_PER_MODEL},
        sweeps=sweeps,
        baseline=baseline,
        detection=detected,
        reference={"databricks_model_update_triggers": {"poll_s": 60, "updates_per_run": 9}},
    )
    return 0 if all_met(targets) else 2


def populate(database: Path, models: int) -> None:
    """``models`` registered models with three versions each (every 20th with a challenger),
    written through MLflow's own SQL store into the database the server then opens: the REST
    API with one server worker takes about a second a model here, minutes for the setup."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    database.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{database}")
    for i in range(models):
        name = f"bench-{i:04d}"
        store.create_registered_model(name)
        for _ in range(VERSIONS_PER_MODEL):
            store.create_model_version(name, SOURCE)
        if i % 20 == 0:
            store.set_registered_model_alias(name, "challenger", 2)
    store.engine.dispose()
    # MLflow stamps each version "now": spread them over the last 23 hours, as a day of a team's
    # registrations is (inside the first sweep's 24 h look-back)
    import sqlite3

    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE model_versions SET creation_time = creation_time - abs(random() % 82800000)"
        )
    print(
        f"registry: {models} models x {VERSIONS_PER_MODEL} versions in "
        f"{time.perf_counter() - started:.0f} s"
    )


def measure_sweeps(tmp: Path, url: str, client: MlflowClient, models: int) -> dict:
    """The sweep as `serve` runs it (the dispatcher, the SQLite ledger, the cursor), in process."""
    clock = FixedClock(time.time())
    registry = MlflowRegistry(url)
    dispatcher, ledger = dispatcher_over(
        tmp / "inproc", registries={"mlflow": registry}, clock=clock
    )

    def sweep(request: str) -> dict:
        clock.set(time.time())
        tick = events.action("sweep", {"since": None}, request, user="bench")
        started = time.perf_counter()
        record = dispatcher.process(dispatcher.submit(tick).record.id)
        seconds = time.perf_counter() - started
        figures = record.outcome["data"]["sweep:mlflow"]
        return {
            "seconds": seconds,
            "calls": figures["calls"],
            "raised": len(record.outcome["emitted"]),
        }

    try:
        first = sweep("first")
        print(
            f"first sweep (catch-up, look-back 24 h): {first['seconds']:.2f} s, "
            f"{first['calls']} calls, {first['raised']} events"
        )
        time.sleep(0.2)
        idle = [sweep(f"idle-{i}") for i in range(5)]
        print("idle sweeps: " + ", ".join(f"{r['seconds'] * 1000:.0f} ms" for r in idle))
        for i in random.sample(range(models), 10):
            client.create_model_version(f"bench-{i:04d}", SOURCE)
        ten = sweep("ten")
    finally:
        ledger.close()
    return {
        "first": first,
        "idle": {
            "median_s": statistics.median(r["seconds"] for r in idle),
            "calls": max(r["calls"] for r in idle),
            "raised": sum(r["raised"] for r in idle),
            "runs": idle,
        },
        "ten_new": ten,
    }


def full_listing(client: MlflowClient) -> dict:
    """The baseline: every version and every registered model, page by page."""
    started, calls, versions, token = time.perf_counter(), 0, 0, None
    while True:
        page = client.search_model_versions(max_results=1000, page_token=token)
        calls, versions, token = calls + 1, versions + len(page), page.token
        if not token:
            break
    token = None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        calls, token = calls + 1, page.token
        if not token:
            break
    return {"seconds": time.perf_counter() - started, "calls": calls, "versions": versions}


def measure_detection(tmp: Path, url: str, client: MlflowClient, count: int) -> dict:
    """`serve --poll-only` at the default tick; versions created at random moments."""
    from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger

    env = {
        "MLFLOW_TRACKING_URI": url,
        "MLOPS_HOOKS_STATE_DIR": str(tmp / "serve"),
        "MLOPS_HOOKS_POLICY": str(tmp / "mlops.yml"),
    }
    # serve goes on from where the in-process sweeps got to (their cursor), so it does not
    # catch up on (and validate) the bench's 3,000 versions
    earlier, ledger = (
        SqliteLedger(tmp / "inproc" / "ledger.db"),
        SqliteLedger(tmp / "serve" / "ledger.db"),
    )
    ledger.save_cursor("sweep:mlflow", earlier.get_cursor("sweep:mlflow") or "", now=time.time())
    earlier.close()
    ledger.close()
    (tmp / "mlops.yml").write_text("models:\n  - name: detect\n    checks: {loads: {}}\n")
    serve = start_serve_process("serve", tmp, env, 0, "--poll-only")
    client.create_registered_model("detect")
    rows = []
    try:
        for _ in range(count):
            time.sleep(random.uniform(0, TICK_SECONDS))
            created = client.create_model_version("detect", SOURCE)
            made = time.time()
            found = None
            while found is None and time.time() - made < 3 * TICK_SECONDS:
                listed = httpx.get(
                    f"{serve.url}/events", params={"kind": "model_registered"}
                ).json()
                found = next((e for e in listed if e["version"] == str(created.version)), None)
                time.sleep(0.05)
            if found is None:
                raise TimeoutError(f"version {created.version} not found in 3 ticks")
            seen = time.time() - made
            # the tick that raised it: the first after the creation, or a later one?
            due_after = (made // TICK_SECONDS + 1) * TICK_SECONDS
            ticks = httpx.get(
                f"{serve.url}/events", params={"kind": "scheduled", "all": "true"}
            ).json()
            raiser = next(
                t
                for t in ticks
                if found["id"]
                in httpx.get(f"{serve.url}/events/{t['id']}").json()["outcome"]["emitted"]
            )
            tick_at = httpx.get(f"{serve.url}/events/{raiser['id']}").json()["event"]
            tick_time = _epoch(tick_at["occurred_at"])
            first = tick_time <= due_after + 0.001
            rows.append({"version": created.version, "seconds": seen, "first_tick": first})
            print(
                f"  v{created.version}: recorded {seen:.1f} s after its creation"
                f"{'' if first else ' (not the first tick)'}"
            )
    finally:
        serve.stop()
    return {
        "versions": len(rows),
        "median_s": statistics.median(r["seconds"] for r in rows),
        "max_s": max(r["seconds"] for r in rows),
        "first_tick": sum(r["first_tick"] for r in rows),
        "runs": rows,
    }


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


if __name__ == "__main__":
    sys.exit(main())
