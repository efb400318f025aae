"""Run by tests/integration/test_packaging.py with ``python -S`` and only the edge artefact on
the path: every Lambda edge handler imports, and each records an event into a SQLite ledger
(the HTTP one a correctly signed MLflow webhook, answered 202). Prints one JSON line.

Arguments: the state folder, then the fixtures folder (aws-powertools' example events).
"""

import json
import sys
import time
from pathlib import Path

state, fixtures = Path(sys.argv[1]), Path(sys.argv[2])
secret = "probe-secret"
import os  # noqa: E402

os.environ.update(MLOPS_HOOKS_STATE_DIR=str(state), MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET=secret)

from mlops_hooks.functions import (  # noqa: E402
    lambda_alarm,
    lambda_http,
    lambda_s3,
    lambda_schedule,
)
from mlops_hooks.shared.domain.signatures import sign_mlflow  # noqa: E402


class Context:
    aws_request_id = "probe"
    function_name = "probe"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"


def load(name: str) -> dict:
    return json.loads((fixtures / name).read_text())


# the HTTP API event (powertools' example) carrying a signed MLflow model_version.created
body = json.dumps(
    {
        "entity": "model_version",
        "action": "created",
        "timestamp": "2026-11-23T10:00:00+00:00",
        "data": {"name": "churn", "version": "7", "source": "models:/m-1", "run_id": "r1"},
    }
)
stamp = str(int(time.time()))
http = load("apiGatewayProxyV2Event.json")
http["rawPath"] = http["requestContext"]["http"]["path"] = "/webhooks/mlflow"
http["rawQueryString"], http["body"] = "", body
http["headers"] = {
    "content-type": "application/json",
    "x-mlflow-delivery-id": "probe-1",
    "x-mlflow-timestamp": stamp,
    "x-mlflow-signature": sign_mlflow(secret, "probe-1", stamp, body.encode()),
}
answer = lambda_http.handler(http, Context())

s3 = lambda_s3.handler(load("s3Event.json"), Context())
tick = {
    "version": "0",
    "id": "probe-tick",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-23T06:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"],
    "detail": {"task": "reconcile"},
}
schedule = lambda_schedule.handler(tick, Context())
sns = load("snsEvent.json")
sns["Records"][0]["Sns"]["Message"] = json.dumps(
    {
        "AlarmName": "churn-psi",
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": "Threshold Crossed",
        "StateChangeTime": "2026-11-23T10:05:00.000+0000",
        "Trigger": {"Dimensions": [{"name": "model", "value": "churn"}]},
    }
)
alarm = lambda_alarm.handler(sns, Context())

ledger = lambda_http.app.state.runtime.dispatcher.ledger
kinds = sorted(r.kind.value for r in ledger.list())
loaded = sorted(m.split(".")[0] for m in sys.modules)
print(
    json.dumps(
        {
            "http_status": answer["statusCode"],
            "recorded": {
                "s3": len(s3["recorded"]),
                "schedule": len(schedule["recorded"]),
                "alarm": len(alarm["recorded"]),
            },
            "kinds": kinds,
            "ledger": ledger.__class__.__name__,
            "site": [p for p in sys.path if "site-packages" in p],
            "heavy": [m for m in ("mlflow", "pandas", "numpy", "boto3") if m in loaded],
        }
    )
)
