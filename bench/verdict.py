"""Verdict latency: from creating a model version on a real MLflow server to its
``mlops.validation`` tag being visible, over 5 versions of the telco churn model
(holdout = 20 % of the data, the full check suite). Target (issue 3): p50 <= 3 s.

Baseline, measured in the same run: MLflow's own webhook delivery, i.e. from the version's
creation to its ``model_registered`` event being in our ledger. The ratio says how much of
the verdict time is ours.

    python bench/verdict.py [--versions 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from shared import churn_data  # noqa: E402
from tests.support.churn import TELCO, split, telco  # noqa: E402
from tests.support.mlflow_models import log_and_register  # noqa: E402
from tests.support.processes import BIN, cli, free_port, start, start_mlflow_server  # noqa: E402

SECRET = "bench-secret"
POLICY = """
models:
  - name: "*"
    checks:
      loads: {}
      signature: {}
      input_example: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.75}, log_loss: {max: 0.6}}}
      slices: {columns: [Contract, InternetService], metric: roc_auc, min: 0.6}
      latency: {p95_ms: 500}
      size: {max_mb: 50}
      lineage: {}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    promotion: {after_validation: none}
"""


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
    (tmp / "mlops.yml").write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
    data = "IBM Telco" if TELCO.exists() else "generated churn-like"
    print(f"data: {data}, {len(train)} training rows, holdout {len(holdout)} rows")

    mlflow = start_mlflow_server(tmp)
    serve = None
    try:
        port = free_port()
        env = {
            "MLFLOW_TRACKING_URI": mlflow.url,
            "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": SECRET,
            "MLOPS_HOOKS_STATE_DIR": str(tmp / "state"),
            "MLOPS_HOOKS_POLL_SECONDS": "0.2",
        }
        serve = start(
            "serve",
            [str(BIN / "mlops-hooks"), "serve", "--port", str(port)],
            url=f"http://127.0.0.1:{port}",
            ready="/healthz",
            log_dir=tmp,
            env=env,
            cwd=tmp,
        )
        done = cli(
            "webhooks", "register", "--url", f"{serve.url}/webhooks/mlflow", env=env, cwd=tmp
        )
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return 1
        time.sleep(1.5)  # MLFLOW_WEBHOOK_CACHE_TTL=1

        client = MlflowClient(tracking_uri=mlflow.url)
        model = churn_data.train_classifier(train)
        first = log_and_register(mlflow.url, "telco-churn", model, train, client=client)
        wait_verdict(client, serve.url, first)  # warm-up: the first load pays for imports
        source = client.get_model_version("telco-churn", first)

        rows = []
        for _ in range(versions):
            started = time.perf_counter()
            mv = client.create_model_version(
                "telco-churn",
                source.source,
                source.run_id,
                model_id=source.source.rsplit("/", 1)[-1],
            )
            recorded, verdict = wait_verdict(client, serve.url, str(mv.version), started)
            event = next(
                e
                for e in httpx.get(
                    f"{serve.url}/events", params={"kind": "model_registered"}
                ).json()
                if e["version"] == str(mv.version)
            )
            outcome = httpx.get(f"{serve.url}/events/{event['id']}").json()["outcome"]
            rows.append(
                {
                    "version": mv.version,
                    "recorded_s": recorded,
                    "verdict_s": verdict,
                    "result": outcome["result"],
                    "checks_s": outcome["data"]["seconds"],
                    "check_seconds": outcome["data"]["check_seconds"],
                }
            )
            print(
                f"  v{mv.version}: {outcome['result']}, event recorded {recorded:.2f} s, "
                f"verdict {verdict:.2f} s (checks {outcome['data']['seconds']:.2f} s)"
            )
    finally:
        if serve is not None:
            serve.stop()
        mlflow.stop()

    verdicts = [r["verdict_s"] for r in rows]
    recorded = [r["recorded_s"] for r in rows]
    p50, worst = statistics.median(verdicts), max(verdicts)
    base = statistics.median(recorded)
    per_check = {
        name: statistics.median(r["check_seconds"][name] for r in rows)
        for name in rows[0]["check_seconds"]
    }
    print(f"\nverdict visible: p50 {p50:.2f} s, max {worst:.2f} s (target p50 <= 3 s)")
    print(f"baseline, MLflow webhook delivery into the ledger: p50 {base:.2f} s")
    print(f"ratio verdict / delivery: {p50 / base:.1f}x")
    print("median seconds per check: " + ", ".join(f"{k} {v:.3f}" for k, v in per_check.items()))
    out = ROOT / "bench" / "results" / "verdict.json"
    out.write_text(
        json.dumps(
            {
                "p50_s": p50,
                "max_s": worst,
                "delivery_p50_s": base,
                "per_check_s": per_check,
                "versions": rows,
                "data": data,
            },
            indent=2,
        )
    )
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if p50 <= 3 else 2


def wait_verdict(
    client: MlflowClient, serve_url: str, version: str, started: float | None = None
) -> tuple[float, float]:
    """Seconds until the event is recorded and until the verdict tag is visible."""
    started = started or time.perf_counter()
    recorded = None
    while time.perf_counter() - started < 60:
        if recorded is None:
            found = httpx.get(f"{serve_url}/events", params={"kind": "model_registered"}).json()
            if any(e["version"] == version for e in found):
                recorded = time.perf_counter() - started
        tags = client.get_model_version("telco-churn", version).tags
        if "mlops.validation" in tags:
            return recorded or time.perf_counter() - started, time.perf_counter() - started
        time.sleep(0.02)
    raise TimeoutError(f"no verdict on version {version} after 60 s")


if __name__ == "__main__":
    sys.exit(main())
