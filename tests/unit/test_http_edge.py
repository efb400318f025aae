"""The FastAPI edge in-process (TestClient) over a real SQLite ledger."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlops_hooks.functions.app import create_app
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.handlers import BUILTIN
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.bootstrap import bootstrap
from mlops_hooks.shared.dispatch import Dispatcher
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.domain.signatures import sign_databricks, sign_mlflow
from mlops_hooks.shared.ports.outcome import Outcome
from mlops_hooks.shared.ports.runtime import NoQueue
from mlops_hooks.shared.settings import Settings
from tests.support.slack import click_body, signed_headers

SECRET = "edge-secret"
DBX_SECRET = "dbx-secret"
SLACK_SECRET = "slack-signing-secret"
RUNS: list[str] = []


@pytest.fixture
def dispatcher(tmp_path: Path) -> Iterator[Dispatcher]:
    settings = Settings(
        mlflow_webhook_secret=SECRET,
        databricks_webhook_secret=DBX_SECRET,
        slack_signing_secret=SLACK_SECRET,
        state_dir=tmp_path,
    )
    ledger = SqliteLedger(tmp_path / "ledger.db")
    RUNS.clear()
    handlers = {EventKind.MODEL_REGISTERED: lambda e, d: RUNS.append(e.id) or Outcome()}
    yield bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers=handlers)
    ledger.close()


@pytest.fixture
def client(dispatcher: Dispatcher) -> TestClient:
    return TestClient(create_app(Runtime(dispatcher.deps.settings, dispatcher)))


def body_for(
    name: str = "churn", version: str = "1", entity: str = "model_version", action: str = "created"
) -> bytes:
    return json.dumps(
        {
            "entity": entity,
            "action": action,
            "timestamp": "2026-11-23T10:00:00+00:00",
            "data": {
                "name": name,
                "version": version,
                "source": "models:/x",
                "run_id": "r",
                "tags": {},
                "description": None,
            },
        }
    ).encode()


def signed(
    body: bytes, *, secret: str = SECRET, delivery: str | None = None, ts: int | None = None
) -> dict[str, str]:
    delivery = delivery or str(uuid.uuid4())
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign_mlflow(secret, delivery, stamp, body),
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [  # built at test time: at collection time they could already be stale when run
        (
            lambda: {**signed(body_for()), "X-MLflow-Signature": "v1,Zm9yZ2VkIHNpZ25hdHVyZQ=="},
            "does not match",
        ),
        (lambda: signed(body_for(), secret="not-the-secret"), "does not match"),
        (lambda: signed(body_for(), ts=int(time.time()) - 600), "away from now"),
        (lambda: {"Content-Type": "application/json"}, "missing"),
    ],
    ids=["forged", "wrong-secret", "stale", "unsigned"],
)
def test_unauthentic_requests_get_401_and_record_nothing(
    client, dispatcher, make_headers, reason
) -> None:
    response = client.post("/webhooks/mlflow", content=body_for(), headers=make_headers())
    assert response.status_code == 401
    assert reason in response.json()["error"] and "\n" not in response.json()["error"]
    assert dispatcher.ledger.list() == []


def test_malformed_json_is_400_and_records_nothing(client, dispatcher) -> None:
    response = client.post("/webhooks/mlflow", content=b"{nope", headers=signed(b"{nope"))
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    assert dispatcher.ledger.list() == []


def test_oversized_body_is_413(client, dispatcher) -> None:
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/webhooks/mlflow", content=big, headers=signed(big))
    assert response.status_code == 413
    assert dispatcher.ledger.list() == []


def test_authentic_unknown_event_is_202_and_recorded_as_ignored(client, dispatcher) -> None:
    body = body_for(entity="registered_model", action="created")
    response = client.post("/webhooks/mlflow", content=body, headers=signed(body))
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    [record] = dispatcher.ledger.list()
    assert record.kind is EventKind.IGNORED and "registered_model.created" in record.event.reason


def test_three_retries_and_a_second_delivery_are_one_event_and_one_run(client, dispatcher):
    body = body_for(version="7")
    first = signed(body, delivery="delivery-a")
    answers = [client.post("/webhooks/mlflow", content=body, headers=first) for _ in range(3)]
    other = client.post(
        "/webhooks/mlflow", content=body, headers=signed(body, delivery="delivery-b")
    )
    assert [a.status_code for a in answers] + [other.status_code] == [202] * 4
    assert [a.json()["duplicate"] for a in answers] + [other.json()["duplicate"]] == [
        False,
        True,
        True,
        True,
    ]
    while dispatcher.process() is not None:
        pass
    [record] = dispatcher.ledger.list()
    assert record.deliveries == 4 and record.status.value == "done"
    assert RUNS == [record.id]


def test_databricks_route(client, dispatcher) -> None:
    body = json.dumps(
        {
            "event": "MODEL_VERSION_CREATED",
            "model_name": "churn",
            "version": "3",
            "event_timestamp": 1589859029343,
        }
    ).encode()
    ok = client.post(
        "/webhooks/databricks",
        content=body,
        headers={"X-Databricks-Signature": sign_databricks(DBX_SECRET, body)},
    )
    assert ok.status_code == 202 and ok.json()["kind"] == "model_registered"
    bad = client.post(
        "/webhooks/databricks",
        content=body,
        headers={"X-Databricks-Signature": sign_databricks("other", body)},
    )
    assert bad.status_code == 401
    assert len(dispatcher.ledger.list()) == 1


def test_unconfigured_databricks_secret_is_503(tmp_path: Path) -> None:
    settings = Settings(mlflow_webhook_secret=SECRET, state_dir=tmp_path)
    ledger = SqliteLedger(tmp_path / "l.db")
    app = create_app(
        Runtime(settings, bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers=BUILTIN))
    )
    response = TestClient(app).post("/webhooks/databricks", content=b"{}")
    assert response.status_code == 503
    assert "MLOPS_HOOKS_DATABRICKS_WEBHOOK_SECRET" in response.json()["error"]
    ledger.close()


def test_read_api_lists_and_shows_events(client) -> None:
    body = body_for(version="9")
    event_id = client.post("/webhooks/mlflow", content=body, headers=signed(body)).json()["id"]
    listed = client.get("/events", params={"kind": "model_registered"}).json()
    assert [e["id"] for e in listed] == [event_id]
    assert {"id", "key", "kind", "status", "attempts", "model", "version"} <= set(listed[0])
    shown = client.get(f"/events/{event_id}").json()
    assert shown["event"]["model"] == "churn" and shown["history"][0]["status"] == "received"
    assert client.get("/events/ev_nope").status_code == 404
    bad = client.get("/events", params={"status": "bogus"})  # one line, not FastAPI's 422
    assert bad.status_code == 400 and bad.json()["error"].startswith("query status: Input")
    assert client.get("/nowhere").json() == {"error": "Not Found"}
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "policy": health["policy"], "rejected": {}}
    paths = client.get("/openapi.json").json()["paths"]
    assert "/webhooks/mlflow" in paths
    assert set(paths["/events/{event_id}"]["get"]["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "404",
    }
    mlflow_body = paths["/webhooks/mlflow"]["post"]["requestBody"]["content"]["application/json"]
    assert mlflow_body["schema"]["required"] == ["entity", "action", "data"]


def test_read_api_token(tmp_path: Path) -> None:
    settings = Settings(mlflow_webhook_secret=SECRET, api_token="t0ken", state_dir=tmp_path)
    ledger = SqliteLedger(tmp_path / "l.db")
    client = TestClient(
        create_app(
            Runtime(settings, bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers=BUILTIN))
        )
    )
    assert client.get("/events").status_code == 401
    assert client.get("/events", headers={"Authorization": "Bearer t0ken"}).status_code == 200
    ledger.close()


def test_ledger_failure_is_503_not_acknowledged(client, dispatcher, caplog) -> None:
    dispatcher.ledger.close()
    caplog.set_level(logging.INFO, logger="mlops_hooks.edge")
    for version in range(1, 6):  # a flood while the ledger fails (a full disk, say)
        body = body_for(version=str(version))
        response = client.post("/webhooks/mlflow", content=body, headers=signed(body))
        assert response.status_code == 503 and "retry" in response.json()["error"]
    # one line and one traceback for the lot, not one each (the rate limit of refusals)
    edge = [r for r in caplog.records if r.name == "mlops_hooks.edge"]
    assert [r.getMessage() for r in edge if r.levelno == logging.WARNING] == [
        "refused /webhooks/mlflow: 503 could not record the event (LedgerError); retry"
    ]
    [failure] = [r for r in edge if r.levelno == logging.ERROR]
    assert failure.exc_info and "ledger is closed" in str(failure.exc_info[1])


def test_a_signed_slack_click_is_an_approval_event_answered_with_an_empty_200(
    client, dispatcher
) -> None:
    body = click_body("ev_abc", "U_ALICE", "reject", action_ts="1800000000.5")
    for _ in range(2):  # Slack retries a click it got no 200 for in 3 s
        answer = client.post(
            "/slack/actions", content=body, headers=signed_headers(SLACK_SECRET, body)
        )
        assert answer.status_code == 200 and answer.content == b""
    [record] = dispatcher.ledger.list()
    assert record.kind is EventKind.APPROVAL and record.deliveries == 2
    assert record.event.payload["decision"] == "reject"
    assert record.event.payload["request_id"] == "ev_abc"
    assert record.event.reason == "reject by U_ALICE"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: {**h, "x-slack-signature": "v0=" + "0" * 64},
        lambda h: signed_headers("not-the-secret", CLICK),
        lambda h: signed_headers(SLACK_SECRET, CLICK, at=time.time() - 301),
        lambda h: {"content-type": "application/x-www-form-urlencoded"},
    ],
    ids=["forged", "wrong-secret", "stale", "unsigned"],
)
def test_unauthentic_slack_clicks_get_401_and_record_nothing(client, dispatcher, tamper) -> None:
    answer = client.post(
        "/slack/actions", content=CLICK, headers=tamper(signed_headers(SLACK_SECRET, CLICK))
    )
    assert answer.status_code == 401 and "x-slack" in answer.json()["error"]
    assert dispatcher.ledger.list() == []


def test_malformed_and_foreign_slack_interactions(client, dispatcher) -> None:
    bad = b"payload=%7Bnot-json"
    answer = client.post("/slack/actions", content=bad, headers=signed_headers(SLACK_SECRET, bad))
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]
    link = CLICK.replace(b"mlops_approve", b"open")  # the "Open the version" link button
    answer = client.post("/slack/actions", content=link, headers=signed_headers(SLACK_SECRET, link))
    assert answer.status_code == 200
    [record] = dispatcher.ledger.list()
    assert record.kind is EventKind.IGNORED and "open is not acted on" in record.event.reason


def test_unconfigured_slack_secret_is_503(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    settings = Settings(state_dir=tmp_path)
    dispatcher = bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers=BUILTIN)
    answer = TestClient(create_app(Runtime(settings, dispatcher))).post(
        "/slack/actions", content=CLICK, headers=signed_headers(SLACK_SECRET, CLICK)
    )
    assert answer.status_code == 503 and "SLACK_SIGNING_SECRET" in answer.json()["error"]
    ledger.close()


CLICK = click_body("ev_abc", "U_ALICE")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer t0ken", "t0ken"),
        ("bearer t0ken", "t0ken"),  # the scheme is case-insensitive (RFC 7235)
        ("BEARER   t0ken  ", "t0ken"),
        ("t0ken", None),  # no scheme
        ("Bearer", None),  # no token
        ("Bearer ", None),
        ("Basic dDBrZW4=", None),
        ("Bearer t0 ken", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_tokens_are_parsed_as_rfc_7235_says(header, token) -> None:
    from mlops_hooks.functions.app import bearer_token

    assert bearer_token(header) == token


def test_a_public_edge_serves_no_events_without_a_token(tmp_path: Path) -> None:
    settings = Settings(mlflow_webhook_secret=SECRET, state_dir=tmp_path)
    ledger = SqliteLedger(tmp_path / "l.db")
    dispatcher = bootstrap(settings, ledger=ledger, queue=NoQueue(), handlers=BUILTIN)
    public = TestClient(create_app(Runtime(settings, dispatcher, public=True)))
    refused = public.get("/events")
    assert refused.status_code == 403 and "MLOPS_HOOKS_API_TOKEN" in refused.json()["error"]
    assert public.get("/events/ev_1").status_code == 403
    assert public.get("/healthz").status_code == 200
    local = TestClient(create_app(Runtime(settings, dispatcher)))  # loopback: open
    assert local.get("/events").status_code == 200
    with_token = Settings(mlflow_webhook_secret=SECRET, api_token="t0ken", state_dir=tmp_path)
    secured = TestClient(create_app(Runtime(with_token, dispatcher, public=True)))
    assert secured.get("/events", headers={"Authorization": "bearer t0ken"}).status_code == 200
    assert secured.get("/events", headers={"Authorization": "t0ken"}).status_code == 401
    ledger.close()


@pytest.mark.parametrize(
    "stamp",
    ["9" * 400, "²", "١٢٣٤٥٦٧٨٩٠", "-1", "1e9", " 1700000000", "1" * 13],
)
def test_hostile_timestamps_are_refused_before_the_signature_with_one_line(
    client: TestClient, stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Read before the secret is checked: strict ASCII digits, bounded (no OverflowError)."""
    body = body_for()
    raw = stamp.encode()  # sent as UTF-8 bytes, as a hostile client may
    headers = {**signed(body), "X-MLflow-Timestamp": raw}
    response = client.post("/webhooks/mlflow", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "x-mlflow-timestamp is not a unix timestamp"}
    slack = client.post(
        "/slack/actions",
        content=click_body("ev_1", "U1"),
        headers={
            "X-Slack-Request-Timestamp": raw,
            "X-Slack-Signature": "v0=" + "0" * 64,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert slack.status_code == 401
    assert slack.json() == {"error": "x-slack-request-timestamp is not a unix timestamp"}
    assert "Traceback" not in caplog.text


def test_an_overlong_signature_header_is_refused(client: TestClient) -> None:
    body = body_for()
    headers = {**signed(body), "X-MLflow-Signature": "v1," + "A" * 5000}
    response = client.post("/webhooks/mlflow", content=body, headers=headers)
    assert response.status_code == 401
    assert "longer than 1024 characters" in response.json()["error"]


def nested(depth: int) -> dict:
    doc: dict = {}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


@pytest.mark.parametrize(
    "poison",
    [
        {"description": "\udc00 a lone surrogate"},  # valid JSON ("\\udc00"), not storable text
        {"tags": nested(300)},  # a few hundred levels deep
    ],
)
def test_a_poisoned_delivery_is_refused_alone_and_its_batch_is_recorded(
    dispatcher: Dispatcher, poison: dict
) -> None:
    """Fifteen valid deliveries and one unstorable, in one group commit: 202 x 15, 400 x 1."""
    import asyncio

    import httpx

    app = create_app(Runtime(dispatcher.deps.settings, dispatcher))

    def delivery(version: int, extra: dict | None = None) -> bytes:
        doc = json.loads(body_for(version=str(version)))
        doc["data"].update(extra or {})
        return json.dumps(doc).encode()

    bodies = [delivery(v) for v in range(1, 16)] + [delivery(99, poison)]

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            return await asyncio.gather(
                *(client.post("/webhooks/mlflow", content=b, headers=signed(b)) for b in bodies)
            )

    answers = asyncio.run(send_all())
    assert [a.status_code for a in answers[:15]] == [202] * 15
    assert answers[15].status_code == 400  # refused at parsing (depth) or at storing (text)
    assert (
        answers[15]
        .json()["error"]
        .startswith(("the payload cannot be recorded", "body nests deeper"))
    )
    recorded = dispatcher.ledger.list(kind=EventKind.MODEL_REGISTERED, limit=100)
    assert sorted(int(r.version) for r in recorded) == list(range(1, 16))
    app.state.runtime.close()


def test_json_numbers_that_are_integers_are_versions(client: TestClient, dispatcher) -> None:
    doc = json.loads(body_for())
    doc["data"]["version"] = 27.0  # an integer, to JSON Schema and to us
    raw = json.dumps(doc).encode()
    assert client.post("/webhooks/mlflow", content=raw, headers=signed(raw)).status_code == 202
    [record] = dispatcher.ledger.list()
    assert record.version == "27"


def test_an_alias_that_is_not_text_is_ignored_not_a_500(client: TestClient, dispatcher) -> None:
    """Found by bench/fuzz.py: an alias object reached a set lookup (unhashable)."""
    doc = json.loads(body_for(entity="model_version_alias"))
    doc["data"]["alias"] = {"not": "text"}
    raw = json.dumps(doc).encode()
    answer = client.post("/webhooks/mlflow", content=raw, headers=signed(raw))
    assert answer.status_code == 202 and answer.json()["status"] == "ignored"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"version": True}, "version must be a positive integer"),  # JSON true is not "True"
        ({"version": "1" * 300}, "version must be a positive integer"),
        ({"version": "0"}, "version must be a positive integer"),
        ({"version": "-3"}, "version must be a positive integer"),
        ({"version": "²"}, "version must be a positive integer"),
        ({"version": "07"}, "version must be a positive integer"),  # one key per version
        ({"version": 7.5}, "version must be a positive integer"),
        ({"name": 42}, "name must be a string"),
        ({"name": "m" * 5000}, "name is longer than 800 characters"),
        ({"name": "churn\udc00"}, "name is not valid text"),
        ({"tags": nested(400)}, "nests deeper than 32 levels"),
    ],
)
def test_signed_bad_input_is_a_400_with_one_line(client: TestClient, data: dict, says: str) -> None:
    doc = json.loads(body_for())
    doc["data"].update(data)
    raw = json.dumps(doc).encode()
    response = client.post("/webhooks/mlflow", content=raw, headers=signed(raw))
    assert response.status_code == 400, response.text
    assert says in response.json()["error"] and "\n" not in response.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"entity": "model_version", "action": "created", "data": {"n": ' + b"9" * 5000 + b"}}",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,  # past Python's own recursion limit
    ],
)
def test_unparseable_signed_json_is_a_400(client: TestClient, raw: bytes) -> None:
    response = client.post("/webhooks/mlflow", content=raw, headers=signed(raw))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(("body is not acceptable JSON", "body nests"))


def test_the_read_api_hides_own_write_echoes_unless_asked(
    client: TestClient, dispatcher: Dispatcher
) -> None:
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import OWN_WRITE, Source

    echo = dispatcher.submit(events.ignored(Source.MLFLOW, "d-echo", f"{OWN_WRITE}: tag x"))
    body = body_for()
    assert client.post("/webhooks/mlflow", content=body, headers=signed(body)).status_code == 202
    listed = [e["id"] for e in client.get("/events").json()]
    assert echo.record.id not in listed and len(listed) == 1
    assert echo.record.id in [e["id"] for e in client.get("/events?all=true").json()]


FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_the_databricks_docs_example_payloads_are_recorded_as_not_acted_on(
    client: TestClient, dispatcher
) -> None:
    """tests/fixtures/databricks: the docs' three examples, signed as Databricks signs."""
    examples = json.loads((FIXTURES / "databricks" / "registry_webhook_examples.json").read_text())

    def post(doc: dict) -> dict:
        body = json.dumps(doc).encode()
        answer = client.post(
            "/webhooks/databricks",
            content=body,
            headers={"X-Databricks-Signature": sign_databricks(DBX_SECRET, body)},
        )
        assert answer.status_code == 202, answer.text
        return answer.json()

    for event, doc in examples.items():
        answer = post(doc)
        assert answer["status"] == "ignored"
        assert answer["reason"] == f"Databricks {event} is not acted on"
    ours = {
        **examples["MODEL_VERSION_TAG_SET"],
        "tags": [{"key": "mlops.validation", "value": "passed"}],
    }
    assert post(ours)["reason"] == "own write: tag mlops.validation"
    promote = {**ours, "tags": [{"key": "mlops.promote", "value": "Production"}]}
    assert post(promote)["reason"] == "Databricks MODEL_VERSION_TAG_SET is not acted on"
    recorded = dispatcher.ledger.list(limit=10)
    assert len(recorded) == 5 and {r.kind for r in recorded} == {EventKind.IGNORED}
    assert {r.event.occurred_at.year for r in recorded} == {2020}  # event_timestamp, in ms


def test_bolt_pythons_block_actions_payload_is_ignored_and_with_our_button_an_approval(
    client: TestClient, dispatcher
) -> None:
    """tests/fixtures/slack: bolt-python's block_actions test body, form-encoded as Slack posts."""
    from urllib.parse import quote

    doc = json.loads((FIXTURES / "slack" / "bolt_block_actions.json").read_text())

    def post(payload: dict) -> None:
        body = f"payload={quote(json.dumps(payload))}".encode()
        answer = client.post(
            "/slack/actions", content=body, headers=signed_headers(SLACK_SECRET, body)
        )
        assert answer.status_code == 200 and answer.content == b""

    post(doc)
    [foreign] = dispatcher.ledger.list()
    assert foreign.kind is EventKind.IGNORED
    assert foreign.event.reason == "Slack action a is not acted on"
    button = {**doc["actions"][0], "action_id": "mlops_approve", "value": "ev_123"}
    post({**doc, "actions": [button]})
    [approval] = [r for r in dispatcher.ledger.list() if r.kind is EventKind.APPROVAL]
    assert approval.event.reason == "approve by W111"
    assert approval.event.payload["user_name"] == "primary-owner"
    assert approval.event.payload["action_ts"] == "1596530385.194939"
    assert approval.event.payload["response_url"] == doc["response_url"]


def test_a_request_made_again_after_its_decision_is_a_new_event(client, dispatcher) -> None:
    """mlops.promote set again after the first request was decided: a person's second request
    (a new delivery, sent after the decision), not a re-delivery; its retries collapse."""
    from datetime import UTC, datetime, timedelta

    def tag_set(at: datetime) -> bytes:
        return json.dumps(
            {
                "entity": "model_version_tag",
                "action": "set",
                "timestamp": at.isoformat(),
                "data": {
                    "name": "churn",
                    "version": "4",
                    "key": "mlops.promote",
                    "value": "champion",
                },
            }
        ).encode()

    dispatcher.handlers[EventKind.PROMOTION_REQUESTED] = lambda e, d: Outcome(result="reject")
    first = tag_set(datetime.now(UTC) - timedelta(seconds=5))
    answers = [
        client.post("/webhooks/mlflow", content=first, headers=signed(first, delivery="d-1"))
        for _ in range(2)  # the delivery, and its retry
    ]
    assert [a.json()["duplicate"] for a in answers] == [False, True]
    while dispatcher.process() is not None:
        pass
    again = tag_set(datetime.now(UTC) + timedelta(seconds=1))
    repeats = [
        client.post("/webhooks/mlflow", content=again, headers=signed(again, delivery="d-2"))
        for _ in range(2)
    ]
    assert [a.json()["duplicate"] for a in repeats] == [False, True]
    assert repeats[0].json()["id"] != answers[0].json()["id"]
    # a delivery sent before the decision finished (a handler's own alias move coming back)
    late = tag_set(datetime.now(UTC) - timedelta(seconds=4))
    echo = client.post("/webhooks/mlflow", content=late, headers=signed(late, delivery="d-3"))
    assert echo.json()["id"] == answers[0].json()["id"] and echo.json()["duplicate"]
    requests = dispatcher.ledger.list(kind=EventKind.PROMOTION_REQUESTED)
    # the first request counts every delivery of its key (the repeats reach it first)
    assert sorted(r.deliveries for r in requests) == [2, 5]


def test_the_webhook_routes_read_their_headers_in_any_case_and_no_others() -> None:
    """ASGI servers send lower-case header names (uvicorn, Mangum); one that does not is
    still read, and only the headers the routes use are decoded."""
    from mlops_hooks.functions.webhooks import wanted_headers

    raw = [
        (b"host", b"example"),
        (b"X-MLflow-Signature", b"v1,abc"),
        (b"x-mlflow-timestamp", b"1765100000"),
        (b"X-MLFLOW-DELIVERY-ID", b"d-1"),
        (b"content-length", b"12"),
        (b"x-unrelated", b"\xff"),
    ]
    assert wanted_headers(raw) == {
        "x-mlflow-signature": "v1,abc",
        "x-mlflow-timestamp": "1765100000",
        "x-mlflow-delivery-id": "d-1",
        "content-length": "12",
    }
