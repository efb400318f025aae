"""The one event model every transport is turned into, and its idempotency keys.

An event's ``key`` names the *fact* (this model version was created), not the
delivery: retries of one delivery and repeated deliveries of the same fact get
the same key, so the ledger records them once. The ``id`` is derived from the
key, which makes recording naturally idempotent in every ledger backend.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventKind(StrEnum):
    MODEL_REGISTERED = "model_registered"
    PROMOTION_REQUESTED = "promotion_requested"
    DATA_LANDED = "data_landed"
    LABELS_LANDED = "labels_landed"  # true outcomes under a model's data.labels prefix
    DRIFT_DETECTED = "drift_detected"
    PERFORMANCE_DEGRADED = "performance_degraded"  # concept drift: live metrics below the rule
    SCHEDULED = "scheduled"
    APPROVAL = "approval"
    # A person's command (CLI, web UI): rollback, replay, reconcile, webhook registration
    ACTION = "action"
    # An authentic delivery that maps to no action. Kept for the audit trail.
    IGNORED = "ignored"


class Source(StrEnum):
    MLFLOW = "mlflow"
    DATABRICKS = "databricks"
    S3 = "s3"
    SCHEDULE = "schedule"
    ALARM = "alarm"
    SLACK = "slack"
    HANDLER = "handler"  # emitted by another handler
    SWEEP = "sweep"  # found by the registry sweep (what a lost webhook would have said)
    MODEL_TRIGGER = "model_trigger"  # a Databricks model update trigger's job forwarded it
    CLI = "cli"
    UI = "ui"


def utcnow() -> datetime:
    return datetime.now(UTC)


def event_id_for(key: str) -> str:
    """Stable id from the key: 24 hex digits of its SHA-256."""
    return "ev_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


class Event(BaseModel):
    """One thing that happened, in transport-neutral form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EventKind
    key: str = Field(min_length=1, max_length=1024)
    source: Source
    occurred_at: datetime = Field(default_factory=utcnow)
    # which model registry the model coordinates refer to: the OSS server or a workspace
    registry: str = "mlflow"
    # an MLflow 3 server with workspaces (MLFLOW_ENABLE_WORKSPACES): the workspace the model is
    # in; team-a's and team-b's "shared_model" v1 are two facts
    workspace: str | None = None
    model: str | None = None
    version: str | None = None
    alias: str | None = None
    stage: str | None = None
    # promotion target: an alias ("champion") or a stage ("Production")
    target: str | None = None
    bucket: str | None = None
    object_key: str | None = None
    task: str | None = None
    rule: str | None = None
    delivery_id: str | None = None
    parent_id: str | None = None
    reason: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @cached_property
    def id(self) -> str:
        return event_id_for(self.key)


# --- constructors: the only places that know how a key is built ---------------------------


def _join(*parts: object) -> str:
    # "/" cannot appear in MLflow model names' meaningful positions; escape it anyway so that
    # ("a/b", "1") and ("a", "b/1") never collide.
    texts = [str(p) for p in parts]
    if any(":" in t or "%" in t for t in texts):
        texts = [t.replace("%", "%25").replace(":", "%3A") for t in texts]
    return ":".join(texts)


def _where(registry: str, workspace: str | None) -> str:
    """The registry part of a key: "mlflow", or "mlflow@team-a" on a workspace server."""
    return registry if workspace is None else f"{registry}@{workspace}"


def model_registered(
    source: Source, model: str, version: str, *, registry: str | None = None, **fields: Any
) -> Event:
    registry = registry or _registry_of(source)
    return Event(
        kind=EventKind.MODEL_REGISTERED,
        key=_join("model_registered", _where(registry, fields.get("workspace")), model, version),
        source=source,
        registry=registry,
        model=model,
        version=str(version),
        **fields,
    )


def promotion_requested(
    source: Source,
    model: str,
    version: str,
    target: str,
    *,
    registry: str | None = None,
    evidence: str | None = None,
    **fields: Any,
) -> Event:
    """``evidence``: "live" for a request raised by live evidence (labelled shadow or split
    rows), a fact of its own beside a person's or validation's request."""
    registry = registry or _registry_of(source)
    parts = ["promotion_requested", _where(registry, fields.get("workspace")), model, version]
    if evidence:
        fields["payload"] = {**fields.get("payload", {}), "evidence": evidence}
    return Event(
        kind=EventKind.PROMOTION_REQUESTED,
        key=_join(*parts, target, *([evidence] if evidence else [])),
        source=source,
        registry=registry,
        model=model,
        version=str(version),
        target=target,
        **fields,
    )


def is_repeated_request(event: Event, recorded: Any) -> bool:
    """A person's request made again after the first was decided (``mlops.promote`` set again,
    the challenger alias set again): a new fact, not a re-delivery. Only a webhook delivery
    (its own delivery id) sent after the recorded request finished counts; a retry of the same
    delivery, the sweep, and the echo of a handler's own alias move (sent before its request
    finished) collapse into the recorded event as before."""
    finished = getattr(recorded, "finished_at", None)
    return (
        event.kind is EventKind.PROMOTION_REQUESTED
        and bool(event.delivery_id)
        and event.delivery_id != recorded.event.delivery_id
        and finished is not None
        and event.occurred_at > finished
    )


def repeated(event: Event) -> Event:
    """The repeated request as an event of its own, keyed by its delivery (whose retries
    collapse into it)."""
    # a new model, not model_copy: the id is cached from the key
    return Event(**{**event.model_dump(), "key": f"{event.key}:again:{event.delivery_id}"})


def data_landed(bucket: str, object_key: str, etag_or_sequencer: str, **fields: Any) -> Event:
    return _landed(EventKind.DATA_LANDED, bucket, object_key, etag_or_sequencer, fields)


def labels_landed(bucket: str, object_key: str, etag_or_sequencer: str, **fields: Any) -> Event:
    """Labels (true outcomes) landed: keyed by the object, like data."""
    return _landed(EventKind.LABELS_LANDED, bucket, object_key, etag_or_sequencer, fields)


def _landed(kind: EventKind, bucket: str, key: str, version: str, fields: dict) -> Event:
    return Event(
        kind=kind,
        key=_join(kind.value, bucket, key, version),
        source=fields.pop("source", Source.S3),
        bucket=bucket,
        object_key=key,
        **fields,
    )


def performance_degraded(model: str, window: str, **fields: Any) -> Event:
    """The champion's live performance broke the policy's rule, as of ``window`` (the last
    labelled day checked): one fact per model and day, however often labels land."""
    return Event(
        kind=EventKind.PERFORMANCE_DEGRADED,
        key=_join("performance_degraded", model, window),
        source=fields.pop("source", Source.HANDLER),
        model=model,
        **fields,
    )


def drift_detected(model: str, window: str, **fields: Any) -> Event:
    return Event(
        kind=EventKind.DRIFT_DETECTED,
        key=_join("drift_detected", model, window),
        source=fields.pop("source", Source.ALARM),
        model=model,
        **fields,
    )


def scheduled(rule: str, scheduled_time: datetime, task: str, **fields: Any) -> Event:
    return Event(
        kind=EventKind.SCHEDULED,
        key=_join("scheduled", rule, scheduled_time.astimezone(UTC).isoformat()),
        source=fields.pop("source", Source.SCHEDULE),
        rule=rule,
        task=task,
        occurred_at=scheduled_time,
        **fields,
    )


# The frequent ticks that keep the system current (job runs refreshed, the registry swept): their
# events are housekeeping, expired from the DynamoDB ledger after tick_retention_days.
HOUSEKEEPING_TASKS = frozenset({"reconcile", "sweep"})


def is_housekeeping_tick(event: Event) -> bool:
    return event.kind is EventKind.SCHEDULED and event.task in HOUSEKEEPING_TASKS


def approval(action_id: str, **fields: Any) -> Event:
    return Event(
        kind=EventKind.APPROVAL,
        key=_join("approval", action_id),
        source=fields.pop("source", Source.SLACK),
        **fields,
    )


def action(
    command: str,
    arguments: dict[str, Any],
    request_id: str,
    *,
    user: str,
    source: Source = Source.CLI,
    **fields: Any,
) -> Event:
    """A person's command, keyed by command + arguments + request id: the same request retried
    is one event (carried out once); running the command again is a new request."""
    import json

    digest = hashlib.sha256(
        json.dumps(arguments, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:16]
    return Event(
        kind=EventKind.ACTION,
        key=_join("action", source.value, command, digest, request_id),
        source=source,
        task=command,
        model=arguments.get("model"),
        reason=f"{command} by {user}",
        payload={"arguments": arguments, "user": user, "request_id": request_id},
        **fields,
    )


# The reason an echo of mlops-hooks' own registry writes (its mlops.* tags) is recorded with:
# kept for the audit trail, hidden by default wherever events are listed.
OWN_WRITE = "own write"


def is_own_write(event: Event) -> bool:
    return event.kind is EventKind.IGNORED and (event.reason or "").startswith(OWN_WRITE)


def is_listed_by_default(event: Event) -> bool:
    """Listings (``events list``, ``GET /events``) leave out the echoes of our own writes and
    the housekeeping ticks (a sweep every 10 s) unless asked for everything."""
    return not (is_own_write(event) or is_housekeeping_tick(event))


def ignored(source: Source, delivery: str, reason: str, **fields: Any) -> Event:
    """An authentic delivery we do not act on; keyed by the delivery so retries collapse."""
    return Event(
        kind=EventKind.IGNORED,
        key=_join("ignored", source.value, delivery),
        source=source,
        reason=reason,
        **fields,
    )


def is_unity_catalog(model: str) -> bool:
    """catalog.schema.model: a Unity Catalog model, promoted by alias (the workspace registry's
    one-part names by stage)."""
    return model.count(".") == 2


def promotes_by_alias(registry: str, model: str) -> bool:
    """MLflow OSS and Unity Catalog promote by alias; a Databricks workspace registry by stage."""
    return registry == "mlflow" or is_unity_catalog(model)


def _registry_of(source: Source) -> str:
    # The OSS server and a Databricks workspace are different registries: the same model name
    # in both is two facts. Events raised by handlers or the CLI name their registry.
    return "databricks" if source is Source.DATABRICKS else "mlflow"
