"""AWS benchmark: signed webhooks per second through the HTTP function's handler (Mangum over the
edge app, as mlops_hooks.functions.lambda_http builds it) on the DynamoDB ledger (moto in server
mode, over HTTP) against the same handler on SQLite, in the same run; and the worker function's
cold import against `import fastapi, mangum`.

A Lambda instance handles one request at a time, so the invocations are sequential: the figure
is per instance (concurrency multiplies it). moto answers locally, so DynamoDB's real network
latency (single-digit ms in-region) is not in it; what is, is everything our code does.

    python bench/aws_rehearsal.py [--webhooks 500] [--import-repeats 7]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from mlops_hooks.shared.domain.signatures import sign_mlflow  # noqa: E402
from tests.support.processes import start_moto_server  # noqa: E402

SECRET = "bench-secret"
COLD_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def http_event(version: int) -> dict:
    body = json.dumps(
        {
            "entity": "model_version",
            "action": "created",
            "timestamp": "2026-12-01T10:00:00+00:00",
            "data": {
                "name": "bench",
                "version": str(version),
                "source": "models:/m",
                "run_id": "r",
            },
        }
    ).encode()
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/mlflow",
        "rawPath": "/webhooks/mlflow",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-mlflow-delivery-id": delivery,
            "x-mlflow-timestamp": stamp,
            "x-mlflow-signature": sign_mlflow(SECRET, delivery, stamp, body),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "http": {
                "method": "POST",
                "path": "/webhooks/mlflow",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": delivery,
            "routeKey": "POST /webhooks/mlflow",
            "stage": "$default",
            "time": "01/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1,
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


class Context:
    aws_request_id = "bench"
    function_name = "http"


def webhooks_per_second(ledger_url: str, count: int, folder: Path) -> float:
    """The HTTP function's handler over ``ledger_url``: ``count`` signed webhooks, one by one."""
    from mangum import Mangum

    from mlops_hooks.functions.app import create_app
    from mlops_hooks.functions.runtime import Runtime
    from mlops_hooks.functions.wiring import build_dispatcher
    from mlops_hooks.shared.settings import Settings

    settings = Settings(mlflow_webhook_secret=SECRET, ledger_url=ledger_url, state_dir=folder)
    runtime = Runtime(settings, build_dispatcher(settings), public=True)
    handler = Mangum(create_app(runtime), lifespan="off")
    for n in range(20):  # warm: the first requests build the app's caches
        assert handler(http_event(10_000_000 + n), Context())["statusCode"] == 202
    events = [http_event(n) for n in range(1, count + 1)]  # versions count from 1
    started = time.perf_counter()
    for event in events:
        answer = handler(event, Context())
        assert answer["statusCode"] == 202, answer
    seconds = time.perf_counter() - started
    runtime.close()
    runtime.dispatcher.ledger.close()
    return count / seconds


def cold_import_ms(module: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", COLD_IMPORT.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MLOPS_HOOKS_")},
        )
        times.append(float(done.stdout.strip()) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=500)
    parser.add_argument("--import-repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    with tempfile.TemporaryDirectory() as folder:
        moto = start_moto_server(Path(folder))
        try:
            from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger

            table = f"bench-{uuid.uuid4().hex[:6]}"
            DynamoDBLedger(table, endpoint_url=moto.url, create=True).close()
            os.environ["AWS_ENDPOINT_URL"] = moto.url
            sqlite = webhooks_per_second(
                f"sqlite:///{folder}/ledger.db", args.webhooks, Path(folder)
            )
            dynamodb = webhooks_per_second(f"dynamodb://{table}", args.webhooks, Path(folder))
        finally:
            moto.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)
    worker = cold_import_ms("mlops_hooks.functions.lambda_worker", args.import_repeats)
    baseline = cold_import_ms("fastapi, mangum", args.import_repeats)
    print(f"signed webhooks through the HTTP function's handler, one at a time ({args.webhooks}):")
    print(f"  SQLite ledger:          {sqlite:8.0f} webhooks/s")
    print(f"  DynamoDB ledger (moto): {dynamodb:8.0f} webhooks/s  ({dynamodb / sqlite:.2f}x)")
    print(
        f"worker cold import: {worker:.0f} ms; import fastapi, mangum: {baseline:.0f} ms "
        f"({worker / baseline:.2f}x)"
    )
    targets = [
        # 50 ms a webhook at most per instance, over moto's HTTP round trips
        Target("webhooks/s, one instance, DynamoDB (moto)", dynamodb, "1/s", ">=", 20),
        # Lambda's init phase is capped at 10 s; a cold start should cost far less
        Target("worker cold import", worker, "ms", "<=", 2000),
    ]
    write(
        "aws_rehearsal",
        targets,
        webhooks=args.webhooks,
        sqlite_per_s=sqlite,
        dynamodb_per_s=dynamodb,
        dynamodb_over_sqlite=dynamodb / sqlite,
        worker_import_ms=worker,
        fastapi_mangum_import_ms=baseline,
        worker_over_baseline=worker / baseline,
    )
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    sys.exit(main())
