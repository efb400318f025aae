"""How both ledger adapters store a record: epoch-second floats, JSON text for documents.

The row codec is the adapters' business (the ports speak EventRecord); SQLite and DynamoDB
store the same columns, so they share it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mlops_hooks.shared.domain.events import Event, EventKind
from mlops_hooks.shared.ports.ledger import EventRecord, Status, initial_status, stamp

HISTORY_LIMIT = 50  # transitions kept per event (DynamoDB items are capped at 400 KB)


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


FIRST_ROW_COLUMNS = (
    "id", "key", "kind", "source", "model", "version", "status",
    "received_at", "updated_at", "due_at", "event", "history",
)  # fmt: skip


def first_row(event: Event, now: float) -> tuple[Any, ...]:
    """The values of a first delivery's row, in ``FIRST_ROW_COLUMNS`` order: ``new_record``'s
    record in storage form, made from the event in hand (the edge's hot path builds no
    record). A tuple: SQLite binds it as it is, a dict of named values costs the edge ~1 µs
    a webhook more. The other columns start at their defaults (no attempts, one delivery)."""
    status = initial_status(event)
    return (
        event.id,
        event.key,
        event.kind.value,
        event.source.value,
        event.model,
        event.version,
        status.value,
        now,
        now,
        now if status is Status.RECEIVED else None,  # due_at: claimable at once
        event.model_dump_json(),
        f'[{{"at": "{stamp(now)[1]}", "status": "{status.value}"}}]',  # history: no json.dumps
    )


def history_entry(now: float, status: Status, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": ts(now).isoformat(), "status": status.value}  # type: ignore[union-attr]
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry


def append_history(history_json: str | None, entry: dict[str, Any]) -> str:
    items = json.loads(history_json or "[]")
    items.append(entry)
    return json.dumps(items[-HISTORY_LIMIT:])


def record_from_row(row: dict[str, Any]) -> EventRecord:
    """Both adapters store the same columns: epoch-second floats, JSON text for documents."""

    def num(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    return EventRecord(
        id=row["id"],
        key=row["key"],
        kind=EventKind(row["kind"]),
        source=row["source"],
        model=row.get("model"),
        version=row.get("version"),
        status=Status(row["status"]),
        attempts=int(row.get("attempts") or 0),
        deliveries=int(row.get("deliveries") or 1),
        received_at=ts(num("received_at")),
        updated_at=ts(num("updated_at")),
        started_at=ts(num("started_at")),
        finished_at=ts(num("finished_at")),
        due_at=ts(num("due_at")),
        worker=row.get("worker"),
        lease_token=row.get("lease_token"),
        outcome=json.loads(row["outcome"]) if row.get("outcome") else None,
        last_error=row.get("last_error"),
        event=Event.model_validate_json(row["event"]),
        history=json.loads(row.get("history") or "[]"),
    )
