"""Verdict latency: from creating a model version on a real MLflow server to its
``mlops.validation`` tag being visible, over 5 versions of the telco churn model
(holdout = 20 % of the data, the full check suite). Target (issue 19): with the default
evaluator (``mlflow``: the verdict from our own metrics at once, ``mlflow.models.evaluate``'s
run with its plots written afterwards and linked in the report), p50 <= 0.6 s, or <= 1.7x the
``builtin`` evaluator's p50 in the same run on a slower machine.

Baselines, measured in the same run: the ``builtin`` evaluator, and MLflow's own webhook
delivery (from the version's creation to its ``model_registered`` event in our ledger). Also
reported: when the evaluation run is linked (the report update after the verdict).

    python bench/verdict.py [--versions 5]
"""

from __future__ import annotations

import argparse
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
from mlops_hooks.shared.domain import churn_data  # noqa: E402
from tests.support.churn import TELCO, split, telco  # noqa: E402
from tests.support.mlflow_models import log_and_register  # noqa: E402
from tests.support.processes import cli, start_mlflow_server, start_serve_process  # noqa: E402

SECRET = "bench-secret"
CHECKS = """
    checks:
      loads: {}
      signature: {}
      input_example: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.75}, log_loss: {max: 0.6}}, evaluator: EVALUATOR}
      slices: {columns: [Contract, InternetService], metric: roc_auc, min: 0.6}
      latency: {p95_ms: 500}
      size: {max_mb: 50}
      lineage: {}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    promotion: {after_validation: none}
"""
# model name -> the metrics evaluator its policy entry uses
MODELS = {"telco-churn": "mlflow", "telco-churn-fast": "builtin"}


def policy(holdout: Path) -> str:
    entries = "".join(
        f'  - name: "{name}"' + CHECKS.replace("EVALUATOR", evaluator)
        for name, evaluator in MODELS.items()
    )
    return "models:\n" + entries.replace("HOLDOUT", str(holdout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-verdict-") as folder:
        return run(Path(folder), args.versions)


def run(tmp: Path, versions: int) -> int:
    train, holdout = split(telco())
    holdout_csv = tmp / "holdout.csv"
    holdout.to_csv(holdout_csv, index=False)
    (tmp / "mlops.yml").write_text(policy(holdout_csv))
    data = "IBM Telco" if TELCO.exists() else "generated churn-like"
    print(f"data: {data}, {len(train)} training rows, holdout {len(holdout)} rows")

    mlflow = start_mlflow_server(tmp)
    serve = None
    try:
        env = {
            "MLFLOW_TRACKING_URI": mlflow.url,
            "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": SECRET,
            "MLOPS_HOOKS_STATE_DIR": str(tmp / "state"),
            "MLOPS_HOOKS_POLL_SECONDS": "0.2",
        }
        serve = start_serve_process("serve", tmp, env)
        done = cli(
            "webhooks", "register", "--url", f"{serve.url}/webhooks/mlflow", env=env, cwd=tmp
        )
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return 1
        time.sleep(1.5)  # MLFLOW_WEBHOOK_CACHE_TTL=1

        client = MlflowClient(tracking_uri=mlflow.url)
        model = churn_data.train_classifier(train)
        results = {}
        for name, evaluator in MODELS.items():
            print(f"{name} (metrics by {evaluator}):")
            results[name] = measure(client, serve.url, mlflow.url, name, model, train, versions)
    except Exception:
        # what serve said, before its folder goes with the temporary directory
        if serve is not None:
            print(f"--- the end of serve's log:\n{serve.output()[-6000:]}", file=sys.stderr)
        raise
    finally:
        if serve is not None:
            serve.stop()
        mlflow.stop()

    summary = {name: summarise(rows) for name, rows in results.items()}
    for name, figures in summary.items():
        print(
            f"\n{name} ({MODELS[name]}): verdict visible p50 {figures['p50_s']:.2f} s, "
            f"max {figures['max_s']:.2f} s; webhook delivery p50 "
            f"{figures['delivery_p50_s']:.2f} s; ratio verdict / delivery "
            f"{figures['p50_s'] / figures['delivery_p50_s']:.1f}x"
        )
        print(
            "  median seconds per check: "
            + ", ".join(f"{k} {v:.3f}" for k, v in figures["per_check_s"].items())
        )
    default, builtin = summary["telco-churn"], summary["telco-churn-fast"]
    ratio = default["p50_s"] / builtin["p50_s"]
    print(
        f"\ndefault evaluator / builtin: {ratio:.2f}x (target <= 1.7x); evaluation run linked "
        f"p50 {default['linked_p50_s']:.2f} s after creation"
    )
    targets = [
        Target("verdict p50, default evaluator", round(default["p50_s"], 3), "s", "<=", 0.6),
        Target("verdict p50, default / builtin", round(ratio, 2), "x", "<=", 1.7),
    ]
    write("verdict", targets, data=data, models=summary, runs=results)
    return 0 if all_met(targets) else 2


def measure(
    client: MlflowClient,
    serve_url: str,
    tracking_uri: str,
    name: str,
    model: object,
    train: object,
    versions: int,
) -> list[dict]:
    """Register ``versions`` versions of one logged model, one at a time; time each verdict."""
    first = log_and_register(tracking_uri, name, model, train, client=client)
    wait_verdict(client, serve_url, name, first)  # warm-up: the first of a model is not timed
    wait_linked(client, name, first, time.perf_counter())
    source = client.get_model_version(name, first)
    model_id = source.source.rsplit("/", 1)[-1]  # models:/m-<id>
    rows = []
    for _ in range(versions):
        started = time.perf_counter()
        mv = client.create_model_version(name, source.source, source.run_id, model_id=model_id)
        recorded, verdict = wait_verdict(client, serve_url, name, str(mv.version), started)
        linked = wait_linked(client, name, str(mv.version), started)
        events = httpx.get(f"{serve_url}/events", params={"kind": "model_registered"}).json()
        event = next(e for e in events if (e["model"], e["version"]) == (name, str(mv.version)))
        outcome = wait_done(serve_url, event["id"])  # the next version starts on a quiet worker
        rows.append(
            {
                "version": mv.version,
                "recorded_s": recorded,
                "verdict_s": verdict,
                "linked_s": linked,
                "result": outcome["result"],
                "checks_s": outcome["data"]["seconds"],
                "check_seconds": outcome["data"]["check_seconds"],
            }
        )
        print(
            f"  v{mv.version}: {outcome['result']}, event recorded {recorded:.2f} s, "
            f"verdict {verdict:.2f} s (checks {outcome['data']['seconds']:.2f} s)"
        )
    return rows


def summarise(rows: list[dict]) -> dict:
    return {
        "p50_s": statistics.median(r["verdict_s"] for r in rows),
        "max_s": max(r["verdict_s"] for r in rows),
        "delivery_p50_s": statistics.median(r["recorded_s"] for r in rows),
        "linked_p50_s": statistics.median(r["linked_s"] or 0.0 for r in rows),
        "per_check_s": {
            check: statistics.median(r["check_seconds"][check] for r in rows)
            for check in rows[0]["check_seconds"]
        },
    }


def wait_linked(client: MlflowClient, name: str, version: str, started: float) -> float | None:
    """Seconds until the report links the evaluation run (None: this evaluator writes none)."""
    while time.perf_counter() - started < 60:
        description = client.get_model_version(name, version).description or ""
        if "[evaluation run](" in description:
            return time.perf_counter() - started
        if "mlflow.models.evaluate:** running" not in description:
            return None
        time.sleep(0.05)
    raise TimeoutError(f"no evaluation run linked on version {version} after 60 s")


def wait_done(serve_url: str, event_id: str) -> dict:
    """The event's outcome once it has ended."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        detail = httpx.get(f"{serve_url}/events/{event_id}").json()
        if detail["status"] in ("done", "dead"):
            return detail["outcome"]
        time.sleep(0.05)
    raise TimeoutError(f"event {event_id} did not end within 60 s")


def wait_verdict(
    client: MlflowClient, serve_url: str, name: str, version: str, started: float | None = None
) -> tuple[float, float]:
    """Seconds until the event is recorded and until the verdict tag is visible."""
    started = started or time.perf_counter()
    recorded = None
    while time.perf_counter() - started < 60:
        if recorded is None:
            found = httpx.get(f"{serve_url}/events", params={"kind": "model_registered"}).json()
            if any((e["model"], e["version"]) == (name, version) for e in found):
                recorded = time.perf_counter() - started
        tags = client.get_model_version(name, version).tags
        if "mlops.validation" in tags:
            return recorded or time.perf_counter() - started, time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(f"no verdict on version {version} after 60 s")


if __name__ == "__main__":
    sys.exit(main())
