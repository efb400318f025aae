"""The HTTP edge on the DynamoDB ledger (moto in server mode): the path every deployed webhook
takes. It used to answer every signed delivery 503 (the batch writer called record_many with
``now`` as a positional argument), which only the SQLite path hid."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from mlops_hooks.functions.app import create_app
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.shared.adapters.ledger_dynamodb import DynamoDBLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import Status
from mlops_hooks.shared.ports.runtime import NoQueue
from mlops_hooks.shared.settings import Settings
from tests.unit.test_http_edge import SECRET, body_for, signed


def test_signed_webhooks_are_recorded_in_dynamodb_and_answered_202(moto_server, tmp_path) -> None:
    ledger = DynamoDBLedger(f"edge-{uuid.uuid4().hex[:8]}", endpoint_url=moto_server, create=True)
    settings = Settings(mlflow_webhook_secret=SECRET, state_dir=tmp_path)
    dispatcher = bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers={})
    runtime = Runtime(settings, dispatcher)
    with TestClient(create_app(runtime)) as client:
        body = body_for(version="3")
        first = client.post("/webhooks/mlflow", content=body, headers=signed(body))
        assert first.status_code == 202, first.text
        again = client.post("/webhooks/mlflow", content=body, headers=signed(body))
        assert again.status_code == 202 and again.json()["id"] == first.json()["id"]

        def post(version: int) -> int:  # concurrent deliveries share the batch writer
            body = body_for(version=str(version))
            return client.post("/webhooks/mlflow", content=body, headers=signed(body)).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(post, range(10, 30))) == {202}
        poisoned = json.loads(body_for(version="77"))
        poisoned["data"]["description"] = "\udc00"  # valid JSON, unstorable text
        raw = json.dumps(poisoned).encode()
        refused = client.post("/webhooks/mlflow", content=raw, headers=signed(raw))
        assert refused.status_code == 400, refused.text  # alone, and not a 503 to retry
    record = ledger.get(first.json()["id"])
    assert record.kind is EventKind.MODEL_REGISTERED and record.version == "3"
    assert record.status is Status.RECEIVED and record.deliveries == 2
    assert len(ledger.list(kind=EventKind.MODEL_REGISTERED, limit=100)) == 21
    runtime.close()
    ledger.close()
