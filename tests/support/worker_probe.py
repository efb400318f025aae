"""Run by tests/integration/test_packaging.py with ``python -S`` and only the worker's
requirement set (``pip install --target DIR '<wheel>[worker]'``) on the path: the SQS worker
function handles a wake-up for a recorded ``model_registered`` event, validating a real
version on a real MLflow server. Prints one JSON line.

Arguments: the event id. Settings come from the environment (ledger, tracking URI, policy).
"""

import json
import sys

from mlops_hooks.functions import lambda_worker


class Context:
    aws_request_id = "probe"
    function_name = "worker"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:worker"


event_id = sys.argv[1]
sqs = {
    "Records": [
        {
            "messageId": "m1",
            "receiptHandle": "r1",
            "body": json.dumps({"mlops_event_id": event_id}),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1",
                "SenderId": "edge",
                "ApproximateFirstReceiveTimestamp": "1",
            },
            "messageAttributes": {},
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mlops-hooks-dev-events",
            "awsRegion": "us-east-1",
        }
    ]
}
answer = lambda_worker.handler(sqs, Context())
record = lambda_worker.runtime.dispatcher.ledger.get(event_id)
print(
    json.dumps(
        {
            "failures": answer["batchItemFailures"],
            "status": record.status.value,
            "outcome": record.outcome,
            "error": record.last_error,
            "site": [p for p in sys.path if "site-packages" in p],
        }
    )
)
