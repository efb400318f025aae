"""Transport payloads -> events. MLflow payloads come from MLflow's own examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.entities.webhook import WebhookEvent
from mlflow.webhooks.types import get_example_payload_for_event

from mlops_hooks.functions.aws_events import events_from_aws
from mlops_hooks.functions.databricks_webhook import event_from_databricks
from mlops_hooks.functions.errors import Rejected
from mlops_hooks.functions.mlflow_webhook import event_from_mlflow
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.settings import Settings

SETTINGS = Settings()


def mlflow_body(entity: str, action: str, **data) -> bytes:
    payload = dict(get_example_payload_for_event(WebhookEvent(entity, action)))
    payload.update(data)
    return json.dumps(
        {
            "entity": entity,
            "action": action,
            "timestamp": "2026-11-23T10:00:00+00:00",
            "data": payload,
        }
    ).encode()


def test_mlflow_model_version_created() -> None:
    ev = event_from_mlflow(
        mlflow_body("model_version", "created", name="churn", version="4"), "d1", SETTINGS
    )
    assert ev.kind is EventKind.MODEL_REGISTERED and (ev.model, ev.version) == ("churn", "4")
    assert ev.delivery_id == "d1" and ev.occurred_at.year == 2026


def test_mlflow_challenger_alias_requests_promotion_to_champion() -> None:
    ev = event_from_mlflow(
        mlflow_body(
            "model_version_alias", "created", name="churn", version="4", alias="challenger"
        ),
        "d1",
        SETTINGS,
    )
    assert ev.kind is EventKind.PROMOTION_REQUESTED
    assert (ev.target, ev.alias) == ("champion", "challenger")
    other = event_from_mlflow(
        mlflow_body("model_version_alias", "created", alias="shadow"), "d2", SETTINGS
    )
    assert other.kind is EventKind.IGNORED


def test_mlflow_promote_tag_targets_its_value() -> None:
    ev = event_from_mlflow(
        mlflow_body(
            "model_version_tag",
            "set",
            name="churn",
            version="2",
            key="mlops.promote",
            value="champion",
        ),
        "d",
        SETTINGS,
    )
    assert ev.kind is EventKind.PROMOTION_REQUESTED and ev.target == "champion"
    tag = event_from_mlflow(
        mlflow_body("model_version_tag", "set", key="team", value="x"), "d3", SETTINGS
    )
    assert tag.kind is EventKind.IGNORED and "model_version_tag.set" in (tag.reason or "")


def test_mlflow_other_entities_are_ignored_and_keyed_by_delivery() -> None:
    ev = event_from_mlflow(mlflow_body("registered_model", "created"), "d9", SETTINGS)
    assert ev.kind is EventKind.IGNORED and ev.key == "ignored:mlflow:d9"


@pytest.mark.parametrize("body", [b"[]", b'{"entity": "model_version"}', b"nope"])
def test_mlflow_garbage_is_a_400(body: bytes) -> None:
    with pytest.raises(Rejected) as err:
        event_from_mlflow(body, "d", SETTINGS)
    assert err.value.status == 400


def test_mlflow_known_event_missing_fields_is_a_400() -> None:
    body = json.dumps({"entity": "model_version", "action": "created", "data": {"name": "m"}})
    with pytest.raises(Rejected, match="missing version"):
        event_from_mlflow(body.encode(), "d", SETTINGS)


def dbx(event: str, **fields) -> bytes:
    doc = {
        "event": event,
        "webhook_id": "c5596721",
        "event_timestamp": 1589859029343,
        "model_name": "churn",
        "version": "8",
        "text": "...",
    }
    doc.update(fields)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def test_databricks_events() -> None:
    created = event_from_databricks(dbx("MODEL_VERSION_CREATED"))
    assert created.kind is EventKind.MODEL_REGISTERED and created.registry == "databricks"
    req = event_from_databricks(
        dbx("TRANSITION_REQUEST_CREATED", to_stage="Production", from_stage="None")
    )
    to_prod = event_from_databricks(dbx("TRANSITION_REQUEST_TO_PRODUCTION_CREATED"))
    to_stg = event_from_databricks(dbx("TRANSITION_REQUEST_TO_STAGING_CREATED"))
    assert req.target == to_prod.target == "Production" and to_stg.target == "Staging"
    assert req.key == to_prod.key  # one request, two subscriptions -> one event
    assert event_from_databricks(dbx("COMMENT_CREATED")).kind is EventKind.IGNORED
    ping = event_from_databricks(dbx("MODEL_VERSION_CREATED", model_name=None, version=None))
    assert ping.kind is EventKind.IGNORED and "test ping" in (ping.reason or "")


# --- AWS ------------------------------------------------------------------------------------


def s3_record(key: str = "landing/my+file%2B1.csv", name: str = "ObjectCreated:Put") -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": name,
        "userIdentity": {"principalId": "AWS:X"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "c",
            "bucket": {
                "name": "data",
                "ownerIdentity": {"principalId": "A"},
                "arn": "arn:aws:s3:::data",
            },
            "object": {"key": key, "size": 10, "eTag": "e1", "sequencer": "0055"},
        },
    }


def sqs_record(body: str) -> dict:
    return {
        "messageId": "m1",
        "receiptHandle": "r",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


def sns_note(message: str) -> dict:
    return {
        "Type": "Notification",
        "MessageId": "n1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Subject": None,
        "Message": message,
        "Timestamp": "2026-11-23T10:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "x",
        "SigningCertUrl": "https://x/c.pem",
        "UnsubscribeUrl": "https://x/?u",
        "MessageAttributes": {},
    }


def test_s3_direct_sqs_and_sns_sqs_all_give_the_same_decoded_event() -> None:
    direct = events_from_aws({"Records": [s3_record()]})
    notification = json.dumps({"Records": [s3_record()]})
    via_sqs = events_from_aws({"Records": [sqs_record(notification)]})
    via_sns = events_from_aws({"Records": [sqs_record(json.dumps(sns_note(notification)))]})
    assert [e.key for e in direct] == [e.key for e in via_sqs] == [e.key for e in via_sns]
    ev = direct[0]
    assert ev.kind is EventKind.DATA_LANDED
    assert (ev.bucket, ev.object_key) == ("data", "landing/my file+1.csv")


def test_s3_eventbridge_object_created() -> None:
    doc = {
        "version": "0",
        "id": "1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::data"],
        "detail": {
            "version": "0",
            "bucket": {"name": "data"},
            "object": {"key": "landing/a+b.csv", "size": 5, "etag": "e", "sequencer": "0066"},
            "request-id": "r",
            "requester": "123",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }
    [ev] = events_from_aws(doc)
    assert ev.object_key == "landing/a b.csv" and ev.key.endswith(":0066")


def test_s3_test_event_and_removals() -> None:
    assert (
        events_from_aws({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "data"}) == []
    )
    [removed] = events_from_aws({"Records": [s3_record(name="ObjectRemoved:Delete")]})
    assert removed.kind is EventKind.IGNORED


def test_schedules() -> None:
    rule = {
        "version": "0",
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "1",
        "time": "2026-11-23T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:1:rule/nightly-batch"],
        "detail": {"task": "batch_inference", "model": "churn"},
    }
    [ev] = events_from_aws(rule)
    assert (ev.kind, ev.task, ev.rule, ev.model) == (
        EventKind.SCHEDULED,
        "batch_inference",
        "nightly-batch",
        "churn",
    )
    [transformed] = events_from_aws(
        {"task": "drift_check", "rule": "arn:x:rule/drift", "time": "2026-11-23T06:00:00Z"}
    )
    assert (
        transformed.rule == "drift"
        and transformed.key == "scheduled:drift:2026-11-23T06%3A00%3A00+00%3A00"
    )
    with pytest.raises(Rejected, match="without a task"):
        events_from_aws({**rule, "detail": {}})


def alarm(state: str = "ALARM", dims=None, name: str = "churn-psi") -> str:
    return json.dumps(
        {
            "AlarmName": name,
            "NewStateValue": state,
            "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed: PSI 0.31 > 0.25",
            "StateChangeTime": "2026-11-23T10:05:00.000+0000",
            "Trigger": {
                "MetricName": "psi",
                "Namespace": "mlops",
                "Dimensions": dims if dims is not None else [{"name": "model", "value": "churn"}],
            },
        }
    )


def test_alarm_via_sns_only_alarm_state_raises_drift() -> None:
    sns_event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:1:t:s",
                "Sns": sns_note(alarm()),
            }
        ]
    }
    [ev] = events_from_aws(sns_event)
    assert ev.kind is EventKind.DRIFT_DETECTED and ev.model == "churn"
    assert "PSI 0.31" in (ev.reason or "")
    [ok] = events_from_aws(json.loads(alarm(state="OK")))
    assert ok.kind is EventKind.IGNORED
    [named] = events_from_aws(json.loads(alarm(dims=[], name="mlops-drift-fraud")))
    assert named.model == "fraud"
    [nameless] = events_from_aws(json.loads(alarm(dims=[])))
    assert nameless.kind is EventKind.IGNORED and "names no model" in (nameless.reason or "")


@pytest.mark.parametrize(
    "doc",
    [
        [1],
        {"Records": [{"eventSource": "aws:kafka"}]},
        {"hello": "world"},
        {"Records": [sqs_record("{nope")]},
    ],
)
def test_aws_garbage_is_rejected(doc) -> None:
    with pytest.raises(Rejected) as err:
        events_from_aws(doc)
    assert err.value.status == 400


FIXTURES = Path(__file__).parents[1] / "fixtures"
EXAMPLES = json.loads((FIXTURES / "mlflow" / "test_webhook_examples.json").read_text())


def test_the_fixture_is_what_mlflows_test_button_sends() -> None:
    for kind, data in EXAMPLES.items():
        entity, action = kind.split(".")
        assert get_example_payload_for_event(WebhookEvent(entity, action)) == data


def test_mlflows_test_deliveries_are_recorded_as_ignored_and_take_no_real_key() -> None:
    from mlops_hooks.functions.mlflow_webhook import TEST_DELIVERY

    assert EXAMPLES["model_version.created"] == TEST_DELIVERY
    for kind, data in EXAMPLES.items():
        entity, action = kind.split(".")
        body = json.dumps({"entity": entity, "action": action, "data": data}).encode()
        ev = event_from_mlflow(body, f"test-{kind}", SETTINGS)
        assert ev.kind is EventKind.IGNORED, kind
        assert ev.key.startswith("ignored:mlflow:test-")  # keyed by the delivery
    created = EXAMPLES["model_version.created"]
    body = json.dumps({"entity": "model_version", "action": "created", "data": created}).encode()
    assert event_from_mlflow(body, "d1", SETTINGS).reason == "test delivery"
    real = {**created, "source": "models:/m-real", "run_id": "0123456789"}  # a real example_model
    body = json.dumps({"entity": "model_version", "action": "created", "data": real}).encode()
    ev = event_from_mlflow(body, "d2", SETTINGS)
    assert (
        ev.kind is EventKind.MODEL_REGISTERED
        and ev.key == "model_registered:mlflow:example_model:1"
    )


def test_echoes_of_our_own_tags_are_ignored_as_own_writes_but_promote_is_a_request() -> None:
    from mlops_hooks.shared.domain.events import is_own_write

    echo = event_from_mlflow(
        mlflow_body(
            "model_version_tag",
            "set",
            name="churn",
            version="3",
            key="mlops.validation",
            value="passed",
        ),
        "d1",
        SETTINGS,
    )
    assert echo.kind is EventKind.IGNORED and echo.reason == "own write: tag mlops.validation"
    assert is_own_write(echo)
    request = event_from_mlflow(
        mlflow_body(
            "model_version_tag",
            "set",
            name="churn",
            version="3",
            key="mlops.promote",
            value="champion",
        ),
        "d2",
        SETTINGS,
    )
    assert request.kind is EventKind.PROMOTION_REQUESTED and not is_own_write(request)
    other = event_from_mlflow(
        mlflow_body("model_version_tag", "set", name="churn", version="3", key="team", value="x"),
        "d3",
        SETTINGS,
    )
    assert other.kind is EventKind.IGNORED and not is_own_write(other)


def test_echoes_of_our_champion_moves_are_own_writes_the_challenger_alias_a_request() -> None:
    from mlops_hooks.shared.domain.events import is_own_write

    def alias(action: str, name: str, delivery: str):
        body = mlflow_body("model_version_alias", action, name="churn", version="5", alias=name)
        return event_from_mlflow(body, delivery, SETTINGS)

    moved = alias("created", "champion", "d1")
    assert is_own_write(moved) and moved.reason == "own write: alias champion -> v5"
    kept = alias("created", "previous_champion", "d2")
    assert is_own_write(kept) and kept.reason == "own write: alias previous_champion -> v5"
    assert is_own_write(alias("deleted", "champion", "d3"))
    assert not is_own_write(alias("created", "challenger", "d4"))  # a person's request
    shadow = alias("created", "shadow", "d5")
    assert shadow.kind is EventKind.IGNORED and not is_own_write(shadow)
    renamed = Settings(champion_alias="prod", previous_alias="prod_before")
    body = mlflow_body("model_version_alias", "created", name="churn", version="5", alias="prod")
    assert is_own_write(event_from_mlflow(body, "d6", renamed))


def powertools(name: str) -> dict:
    return json.loads((FIXTURES / "aws_powertools" / name).read_text())


def test_powertools_direct_alarm_events_become_drift_or_say_why_not() -> None:
    single = powertools("cloudWatchAlarmEventSingleMetric.json")
    [nameless] = events_from_aws(single)  # AWS/Lambda metrics: no model dimension
    assert nameless.kind is EventKind.IGNORED and "names no model" in nameless.reason
    single["alarmData"]["configuration"]["metrics"][1]["metricStat"]["metric"]["dimensions"] = {
        "model": "churn"
    }  # the same alarm on a metric of ours
    [drift] = events_from_aws(single)
    assert drift.kind is EventKind.DRIFT_DETECTED and drift.model == "churn"
    assert drift.key == "drift_detected:churn:2024-02-17T11%3A53%3A08.431+0000"
    composite = powertools("cloudWatchAlarmEventCompositeMetric.json")
    [ignored] = events_from_aws(composite)  # a composite alarm has no metrics of its own
    assert ignored.kind is EventKind.IGNORED and "CompositeDemo.Main names no model" in (
        ignored.reason
    )
    composite["alarmData"]["alarmName"] = "mlops-drift-fraud"
    [named] = events_from_aws(composite)
    assert named.kind is EventKind.DRIFT_DETECTED and named.model == "fraud"
    single["alarmData"]["state"]["value"] = "OK"
    [ok] = events_from_aws(single)
    assert ok.kind is EventKind.IGNORED and ok.reason == "alarm state OK is not acted on"


def test_eventbridge_alarm_state_changes_and_metric_math_dimensions() -> None:
    data = powertools("cloudWatchAlarmEventSingleMetric.json")["alarmData"]
    data["configuration"]["metrics"][2]["metricStat"]["metric"]["dimensions"] = {"model": "m9"}
    change = {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2024-02-17T11:53:08Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:test_alarm"],
        "detail": data,
    }
    [drift] = events_from_aws(change)
    assert drift.kind is EventKind.DRIFT_DETECTED and drift.model == "m9"
    math = json.loads(alarm(dims=[]))
    math["Trigger"]["Metrics"] = [
        {"Id": "e1", "Expression": "m1 / 2"},
        {"Id": "m1", "MetricStat": {"Metric": {"Dimensions": [{"name": "model", "value": "m7"}]}}},
    ]
    [via_sns] = events_from_aws(math)
    assert via_sns.kind is EventKind.DRIFT_DETECTED and via_sns.model == "m7"


def test_s3_object_deleted_through_eventbridge_is_ignored_not_refused() -> None:
    deleted = {
        "version": "0",
        "id": "2ee9cc15-d022-99ea-1fb8-1b1bac4850f9",
        "detail-type": "Object Deleted",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2021-11-12T00:00:00Z",
        "region": "ca-central-1",
        "resources": ["arn:aws:s3:::landing"],
        "detail": {
            "version": "0",
            "bucket": {"name": "landing"},
            "object": {"key": "churn/old.csv", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "DeleteObject",
            "deletion-type": "Permanently Deleted",
        },
    }
    [ignored] = events_from_aws(deleted)
    assert (
        ignored.kind is EventKind.IGNORED and ignored.reason == "S3 Object Deleted is not acted on"
    )


def test_sns_records_with_odd_urls_in_fields_never_read_are_accepted() -> None:
    record = powertools("snsEvent.json")
    record["Records"][0]["Sns"]["Message"] = alarm()
    record["Records"][0]["Sns"]["SigningCertUrl"] = "not a url"
    record["Records"][0]["Sns"]["UnsubscribeUrl"] = ""
    [drift] = events_from_aws(record)
    assert drift.kind is EventKind.DRIFT_DETECTED and drift.model == "churn"


def test_mlflow_workspaces_are_part_of_the_key() -> None:
    """With MLFLOW_ENABLE_WORKSPACES the server adds "workspace" to each delivery."""

    def created(workspace: str | None) -> bytes:
        doc = json.loads(mlflow_body("model_version", "created", name="shared_model", version="1"))
        if workspace is not None:
            doc["workspace"] = workspace
        return json.dumps(doc).encode()

    team_a = event_from_mlflow(created("team-a"), "d1", SETTINGS)
    team_b = event_from_mlflow(created("team-b"), "d2", SETTINGS)
    plain = event_from_mlflow(created(None), "d3", SETTINGS)
    assert team_a.key == "model_registered:mlflow@team-a:shared_model:1"
    assert team_b.key == "model_registered:mlflow@team-b:shared_model:1"
    assert plain.key == "model_registered:mlflow:shared_model:1"  # no workspaces: as before
    assert team_a.workspace == "team-a" and team_a.id != team_b.id
