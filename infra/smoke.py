"""Smoke test of a deployed stage (deploy-stage.yml runs it between staging and prod):
``GET /healthz`` answers ok, and a correctly signed MLflow test delivery is accepted (202).

    MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET=... python infra/smoke.py https://<api>.execute-api...

Needs only the package's core (`pip install mlops_hooks-*.whl`): MLflow's signature comes from
the one place that makes it. The secret comes from the environment and is never printed.
Exit 0 when both pass, else 1 with one line saying which.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

from mlops_hooks.functions.mlflow_webhook import TEST_DELIVERY
from mlops_hooks.shared.domain.signatures import sign_mlflow


def call(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 (https URL)
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, TimeoutError) as exc:
        return 0, str(getattr(exc, "reason", exc))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].startswith(("http://", "https://")):
        print("usage: python infra/smoke.py https://<the stage's HttpApiUrl>", file=sys.stderr)
        return 2
    base = argv[0].rstrip("/")
    secret = os.environ.get("MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET")
    if not secret:
        print("error: set MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    # the URL was checked to be http(s) above
    status, text = call(urllib.request.Request(f"{base}/healthz"))  # noqa: S310
    if status != 200:
        print(f"smoke: GET {base}/healthz answered {status}: {text[:200]}")
        return 1
    # what MLflow's own Test button sends: recorded as a test delivery, never a real version
    body = json.dumps(
        {"entity": "model_version", "action": "created", "data": TEST_DELIVERY}
    ).encode()
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310
        f"{base}/webhooks/mlflow",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-MLflow-Delivery-Id": delivery,
            "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": sign_mlflow(secret, delivery, stamp, body),
        },
    )
    status, text = call(request)
    if status != 202:
        print(f"smoke: a signed test delivery answered {status}: {text[:200]}")
        return 1
    print(f"smoke: {base} healthy; a signed test delivery was accepted (202)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
