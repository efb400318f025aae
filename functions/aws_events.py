"""AWS event shapes -> events, with aws-lambda-powertools' parser models.

One entry point, ``events_from_aws``, recognises every way an S3 object notification, a
schedule tick or an alarm can reach us: directly, inside SQS, inside SNS inside SQS, or as an
EventBridge event. It unwraps envelopes recursively, so a new nesting needs no new code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.cloud_watch_alarm_event import (
    CloudWatchAlarmData,
    CloudWatchAlarmEvent,
)
from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
    S3RecordModel,
    SnsNotificationModel,
    SnsRecordModel,
    SqsRecordModel,
)
from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3Bucket,
    S3Identity,
    S3Message,
    S3OwnerIdentify,
    S3RequestParameters,
    S3ResponseElements,
)
from pydantic import BaseModel, ConfigDict, ValidationError

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import Event, Source

DRIFT_ALARM_PREFIX = "mlops-drift-"
_MODEL_DIMENSIONS = ("model", "Model", "ModelName", "model_name")


class _S3BucketLenient(S3Bucket):
    ownerIdentity: S3OwnerIdentify | None = None  # type: ignore[assignment]


class _S3MessageLenient(S3Message):
    bucket: _S3BucketLenient  # type: ignore[assignment]


class S3Record(S3RecordModel):
    """Powertools' S3 record with the audit-only fields optional.

    S3-compatible stores (MinIO, Ceph, moto) leave out userIdentity, requestParameters,
    responseElements and the bucket owner; nothing here reads them.
    """

    userIdentity: S3Identity | None = None  # type: ignore[assignment]
    requestParameters: S3RequestParameters | None = None  # type: ignore[assignment]
    responseElements: S3ResponseElements | None = None  # type: ignore[assignment]
    s3: _S3MessageLenient  # type: ignore[assignment]


class SnsNotification(SnsNotificationModel):
    """Powertools' SNS notification with the URLs we never follow as plain text: a strict URL
    check of fields nothing reads must not refuse an authentic delivery."""

    UnsubscribeUrl: str | None = None  # type: ignore[assignment]
    SigningCertUrl: str | None = None  # type: ignore[assignment]


class SnsRecord(SnsRecordModel):
    Sns: SnsNotification  # type: ignore[assignment]


class AlarmDimension(BaseModel):
    name: str
    value: str


class AlarmTrigger(BaseModel):
    model_config = ConfigDict(extra="ignore")
    MetricName: str | None = None
    Namespace: str | None = None
    Dimensions: list[AlarmDimension] = []
    # a metric-math alarm names its metrics here: Metrics[].MetricStat.Metric.Dimensions
    Metrics: list[dict[str, Any]] = []

    def dimensions(self) -> list[AlarmDimension]:
        found = list(self.Dimensions)
        for metric in self.Metrics:
            stat = metric.get("MetricStat") if isinstance(metric, dict) else None
            inner = stat.get("Metric") if isinstance(stat, dict) else None
            for dim in (inner or {}).get("Dimensions") or []:
                if isinstance(dim, dict) and {"name", "value"} <= set(dim):
                    found.append(AlarmDimension(name=str(dim["name"]), value=str(dim["value"])))
        return found


class CloudWatchAlarmMessage(BaseModel):
    """The JSON a CloudWatch alarm publishes to SNS (Powertools models the EventBridge form)."""

    model_config = ConfigDict(extra="ignore")
    AlarmName: str
    AlarmDescription: str | None = None
    NewStateValue: str
    OldStateValue: str | None = None
    NewStateReason: str | None = None
    StateChangeTime: str
    Trigger: AlarmTrigger | None = None


class ScheduleInput(BaseModel):
    """What our EventBridge rules pass (an input transformer adds rule and time)."""

    model_config = ConfigDict(extra="forbid")
    task: str
    rule: str | None = None
    time: datetime | None = None
    model: str | None = None


def events_from_aws(doc: Any) -> list[Event]:
    """Every event in an AWS payload; [] for test events. Raises Rejected(400) on garbage."""
    try:
        return _dispatch(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Rejected(400, f"unrecognised AWS payload at {where}: {first['msg']}") from None


def _dispatch(doc: Any) -> list[Event]:
    if isinstance(doc, str):
        return _dispatch(_loads(doc))
    if not isinstance(doc, dict):
        raise Rejected(400, "AWS payload must be a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return []
    if "Records" in doc:
        out: list[Event] = []
        for record in doc["Records"]:
            out.extend(_record(record))
        return out
    if doc.get("Type") == "Notification" and "Message" in doc:  # SNS -> SQS (not raw)
        note = SnsNotification.model_validate(doc)
        return _dispatch(_loads(str(note.Message)))
    if doc.get("detail-type") == "Object Created" and doc.get("source") == "aws.s3":
        return [_from_eventbridge_s3(S3EventNotificationEventBridgeModel.model_validate(doc))]
    if doc.get("source") == "aws.s3" and isinstance(doc.get("detail-type"), str):
        detail = doc.get("detail") if isinstance(doc.get("detail"), dict) else {}
        what = f"{doc.get('detail-type')}:{json.dumps(detail, sort_keys=True)[:300]}"
        return [
            events.ignored(Source.S3, what, f"S3 {doc['detail-type']} is not acted on", payload=doc)
        ]
    if doc.get("source") == "aws.cloudwatch" and isinstance(doc.get("alarmData"), dict):
        # a CloudWatch alarm invoking the function directly (Powertools' CloudWatchAlarmEvent)
        return _from_alarm_data(CloudWatchAlarmEvent(doc).alarm_data, doc)
    if doc.get("detail-type") == "CloudWatch Alarm State Change" and isinstance(
        doc.get("detail"), dict
    ):  # the same alarm data, through EventBridge
        return _from_alarm_data(CloudWatchAlarmData(doc["detail"]), doc)
    if doc.get("detail-type") == "Scheduled Event":
        return [_from_scheduled_event(EventBridgeModel.model_validate(doc))]
    if "AlarmName" in doc and "NewStateValue" in doc:
        return _from_alarm(CloudWatchAlarmMessage.model_validate(doc))
    if "task" in doc:
        return [_from_schedule_input(ScheduleInput.model_validate(doc))]
    raise Rejected(400, "unrecognised AWS payload: not S3, SQS, SNS, EventBridge or an alarm")


def _record(record: Any) -> list[Event]:
    if not isinstance(record, dict):
        raise Rejected(400, "Records must hold objects")
    source = record.get("eventSource") or record.get("EventSource")
    if source == "aws:s3":
        return _from_s3_record(S3Record.model_validate(record))
    if source == "aws:sqs":
        return _dispatch(SqsRecordModel.model_validate(record).body)
    if source == "aws:sns":
        return _dispatch(str(SnsRecord.model_validate(record).Sns.Message))
    raise Rejected(400, f"unsupported record source {source!r}")


def _from_s3_record(record: S3Record) -> list[Event]:
    bucket = record.s3.bucket.name
    # Keys arrive URL-encoded (spaces as '+'): decode before anyone reads the object.
    key = unquote_plus(record.s3.object.key)
    version = record.s3.object.sequencer or record.s3.object.eTag or ""
    payload = record.model_dump(mode="json", by_alias=True)
    if not record.eventName.startswith("ObjectCreated"):
        return [
            events.ignored(
                Source.S3,
                f"{bucket}/{key}@{version}:{record.eventName}",
                f"S3 {record.eventName} is not acted on",
                payload=payload,
            )
        ]
    return [
        events.data_landed(
            bucket,
            key,
            version,
            occurred_at=record.eventTime,
            payload=payload,
            reason=record.eventName,
        )
    ]


def _from_eventbridge_s3(doc: S3EventNotificationEventBridgeModel) -> Event:
    obj = doc.detail.object
    version = obj.sequencer or obj.etag or ""
    return events.data_landed(
        doc.detail.bucket.name,
        unquote_plus(obj.key),
        version,
        occurred_at=doc.time,
        payload=doc.model_dump(mode="json", by_alias=True),
        reason="Object Created",
    )


def _rule_name(resources: list[str]) -> str | None:
    for arn in resources:
        if ":rule/" in arn:
            return arn.split(":rule/", 1)[1]
        if ":schedule/" in arn:  # EventBridge Scheduler
            return arn.split(":schedule/", 1)[1]
    return None


def _from_scheduled_event(doc: EventBridgeModel) -> Event:
    detail = doc.detail if isinstance(doc.detail, dict) else {}
    task = detail.get("task")
    if not isinstance(task, str):
        raise Rejected(
            400,
            "scheduled event without a task: give the rule an input "
            '{"task": "batch_inference" | "drift_check" | "reconcile" | "sweep"}',
        )
    rule = _rule_name(doc.resources) or f"schedule:{task}"
    return events.scheduled(
        rule,
        doc.time,
        task,
        model=detail.get("model"),
        payload=doc.model_dump(mode="json", by_alias=True),
    )


def _from_schedule_input(doc: ScheduleInput) -> Event:
    # Without a time (a constant input), the tick is keyed by the current minute: a retried
    # invocation in the same minute collapses, the next tick does not.
    when = doc.time or datetime.now(UTC).replace(second=0, microsecond=0)
    rule = doc.rule.rsplit("/", 1)[-1] if doc.rule else f"schedule:{doc.task}"
    return events.scheduled(
        rule, when, doc.task, model=doc.model, payload=doc.model_dump(mode="json")
    )


def _from_alarm(doc: CloudWatchAlarmMessage) -> list[Event]:
    payload = doc.model_dump(mode="json")
    delivery = f"{doc.AlarmName}@{doc.StateChangeTime}"
    if doc.NewStateValue != "ALARM":
        return [
            events.ignored(
                Source.ALARM,
                delivery,
                f"alarm state {doc.NewStateValue} is not acted on",
                payload=payload,
            )
        ]
    model = _alarm_model(doc)
    if model is None:
        return [
            events.ignored(
                Source.ALARM,
                delivery,
                f"alarm {doc.AlarmName} names no model (add a 'model' dimension or name it "
                f"{DRIFT_ALARM_PREFIX}<model>)",
                payload=payload,
            )
        ]
    return [
        events.drift_detected(
            model, doc.StateChangeTime, reason=doc.NewStateReason, payload=payload
        )
    ]


def _alarm_model(doc: CloudWatchAlarmMessage) -> str | None:
    dims = {d.name: d.value for d in (doc.Trigger.dimensions() if doc.Trigger else [])}
    return _model_of(doc.AlarmName, dims)


def _model_of(alarm_name: str, dimensions: dict[str, str]) -> str | None:
    """The model an alarm is about: its ``model`` dimension, or a name mlops-drift-<model>."""
    for name in _MODEL_DIMENSIONS:
        if dimensions.get(name):
            return dimensions[name]
    if alarm_name.startswith(DRIFT_ALARM_PREFIX):
        return alarm_name.removeprefix(DRIFT_ALARM_PREFIX) or None
    return None


def _from_alarm_data(data: CloudWatchAlarmData, doc: dict[str, Any]) -> list[Event]:
    """Alarm data as Lambda (``alarmData``) and EventBridge (``detail``) carry it: the state,
    and the metrics (a metric-math or composite alarm has several, or none)."""
    name, state = data.alarm_name, data.state
    delivery = f"{name}@{state.timestamp}"
    if state.value != "ALARM":
        return [
            events.ignored(
                Source.ALARM, delivery, f"alarm state {state.value} is not acted on", payload=doc
            )
        ]
    dimensions: dict[str, str] = {}
    configuration = data.get("configuration")  # a composite alarm has no metrics
    metrics = configuration.get("metrics") if isinstance(configuration, dict) else None
    for metric in metrics if isinstance(metrics, list) else []:
        stat = metric.get("metricStat") if isinstance(metric, dict) else None
        found = ((stat or {}).get("metric") or {}).get("dimensions") or {}
        if isinstance(found, dict):
            dimensions.update({str(k): str(v) for k, v in found.items()})
    model = _model_of(name, dimensions)
    if model is None:
        return [
            events.ignored(
                Source.ALARM,
                delivery,
                f"alarm {name} names no model (add a 'model' dimension or name it "
                f"{DRIFT_ALARM_PREFIX}<model>)",
                payload=doc,
            )
        ]
    return [events.drift_detected(model, state.timestamp, reason=state.reason, payload=doc)]


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"message body is not valid JSON: {exc}") from None
