"""The /ui pages' server time with a busy ledger, against a bare FastAPI template page.

    python bench/ui.py [--events 10000] [--versions 200] [--loads 50]

A SQLite ledger with 10,000 events (200 model versions of 5 models, each registered,
validated and compared; scheduled ticks, data landings, drift alarms, approvals, a few dead
ones), each with its outcome; a memory registry holds the versions and their reports (so
what is measured is our code, not an MLflow server's). Each page is loaded 50 times through
the ASGI app in process (httpx's ASGI transport: no sockets); p50 and p95 of the server time
per page. Baseline, same run: a bare FastAPI app rendering one Jinja2 template of the same
layout with a 50-row table. Target: p95 <= 300 ms per page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402

MODELS = ["churn", "fraud", "ltv", "upsell", "risk"]


def busy_ledger(folder: Path, events: int, versions: int):
    """A dispatcher over a SQLite ledger of ``events`` finished events and a memory registry
    of ``versions`` versions with their reports."""
    from datetime import UTC, datetime, timedelta

    from mlops_hooks.shared.adapters.markdown import replace_section
    from mlops_hooks.shared.domain import events as ev
    from mlops_hooks.shared.domain.events import Source
    from tests.support.fakes import FakeModel, MemoryRegistry, dispatcher_over

    registry = MemoryRegistry()
    report = "| check | result |\n|---|---|\n" + "".join(
        f"| check{n} | ✅ passed |\n" for n in range(8)
    )
    per_model = versions // len(MODELS)
    for model in MODELS:
        for v in range(1, per_model + 1):
            registry.add(model, str(v), FakeModel(None), run_id=f"{model}-{v}")
            registry.write_report(model, str(v), "validation", report)
            registry.write_report(model, str(v), "promotion", report)
        registry.set_alias(model, "champion", str(per_model))
    dispatcher, ledger = dispatcher_over(folder, registries={"mlflow": registry})
    start = datetime(2026, 11, 1, tzinfo=UTC)
    batch = []
    for model in MODELS:
        for v in range(1, per_model + 1):
            batch.append(("passed", ev.model_registered(Source.MLFLOW, model, str(v))))
            batch.append(
                ("promote", ev.promotion_requested(Source.HANDLER, model, str(v), "champion"))
            )
    n = 0
    while len(batch) < events:
        at = start + timedelta(minutes=n)
        model = MODELS[n % len(MODELS)]
        kind = n % 3
        if kind == 0:
            event = ev.scheduled(f"{model}-nightly", at, "batch_inference", model=model)
        elif kind == 1:
            event = ev.data_landed("landing", f"{model}/{n}.csv", f"e{n}")
        else:
            event = ev.drift_detected(model, f"w{n}")
        batch.append(("dead" if n % 500 == 0 else "launched", event))
        n += 1
    recorded = ledger.record_many([e for _, e in batch], now=time.time())
    for (result, _), rec in zip(batch, recorded, strict=True):
        token = f"t{rec.record.id}"
        ledger.claim(rec.record.id, worker="bench", token=token, now=time.time(), lease_seconds=60)
        if result == "dead":
            ledger.fail(
                rec.record.id, token=token, error="bench: dead", retry_at=None, now=time.time()
            )
        else:
            outcome = {"result": result, "summary": f"{result} (bench)", "data": {"checks": {}}}
            ledger.complete(rec.record.id, token=token, outcome=outcome, now=time.time())
    dead = next(r.record.id for (res, _), r in zip(batch, recorded, strict=True) if res == "dead")
    del replace_section
    return dispatcher, ledger, dead


async def timed(app, paths: list[str], loads: int) -> dict[str, list[float]]:
    import httpx

    found: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for path in paths:
            await client.get(path)  # warm: templates compiled, imports done
            times = []
            for _ in range(loads):
                started = time.perf_counter()
                answer = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            found[path] = times
    return found


def bare_app():
    """FastAPI + one Jinja2 template of the same layout, a 50-row table: the floor."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from jinja2 import Environment

    from mlops_hooks.functions.ui.templating import TEMPLATES

    env = Environment(autoescape=True)
    page = env.from_string(
        (TEMPLATES / "base.html")
        .read_text()
        .replace(
            "{% block main %}{% endblock %}",
            "<table>{% for r in rows %}<tr><td>{{ r }}</td><td>{{ r * 2 }}</td></tr>"
            "{% endfor %}</table>",
        )
    )
    app = FastAPI()

    @app.get("/bare", response_class=HTMLResponse)
    async def bare() -> HTMLResponse:
        return HTMLResponse(page.render(rows=list(range(50)), static=True))

    return app


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--loads", type=int, default=50)
    args = parser.parse_args()

    from mlops_hooks.functions.app import create_app
    from mlops_hooks.functions.runtime import Runtime

    with tempfile.TemporaryDirectory() as folder:
        dispatcher, ledger, dead = busy_ledger(Path(folder), args.events, args.versions)
        try:
            app = create_app(Runtime(dispatcher.deps.settings, dispatcher))
            pages = {
                "models": "/ui",
                "model (40 versions)": "/ui/models/churn",
                "events": "/ui/events",
                "events, status=dead": "/ui/events?status=dead",
                "event": f"/ui/events/{dead}",
            }
            measured = asyncio.run(timed(app, list(pages.values()), args.loads))
            bare = asyncio.run(timed(bare_app(), ["/bare"], args.loads))["/bare"]
        finally:
            ledger.close()
    print(f"{args.events:,} events, {args.versions} versions; {args.loads} loads per page")
    print(f"  {'page':28} {'p50 ms':>8} {'p95 ms':>8}")
    rows = {}
    for name, path in pages.items():
        times = measured[path]
        rows[name] = (statistics.median(times), pct(times, 95))
        print(f"  {name:28} {rows[name][0]:8.1f} {rows[name][1]:8.1f}")
    print(
        f"  {'bare FastAPI template page':28} {statistics.median(bare):8.1f} {pct(bare, 95):8.1f}"
    )
    targets = [
        Target(f"{name} p95", round(p95, 1), "ms", "<=", 300) for name, (_, p95) in rows.items()
    ]
    write(
        "ui",
        targets,
        events=args.events,
        versions=args.versions,
        loads=args.loads,
        pages={
            name: {"p50_ms": round(a, 1), "p95_ms": round(b, 1)} for name, (a, b) in rows.items()
        },
        bare_template_page={
            "p50_ms": round(statistics.median(bare), 1),
            "p95_ms": round(pct(bare, 95), 1),
        },
    )
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    sys.exit(main())
