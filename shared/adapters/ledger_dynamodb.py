"""DynamoDB ledger for AWS: conditional writes give record-once and exclusive claims.

One item per event (partition key ``id``, derived from the event key), one per held guard
(``id`` = ``hold#`` + its name), one per job run (``id`` = ``run#`` + its id) and one per
cursor (``id`` = ``cursor#`` + its name); those have no
``kind``, so event listings skip them. Claimable items carry
``due`` = "q" and a numeric ``due_at``; the sparse GSI ``due-index`` (due, due_at) finds the
most overdue one. Every state change is conditional on the item's revision ``rev``, so two
workers can never both claim, and a worker that lost its lease cannot finish the event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from mlops_hooks.shared.adapters.ledger_codec import (
    FIRST_ROW_COLUMNS,
    append_history,
    first_row,
    history_entry,
    record_from_row,
    ts,
)
from mlops_hooks.shared.domain.events import (
    Event,
    EventKind,
    is_housekeeping_tick,
    is_listed_by_default,
)
from mlops_hooks.shared.ports.ledger import (
    CLAIMABLE,
    EventRecord,
    Hold,
    JobRun,
    Ledger,
    LedgerError,
    Recorded,
    Status,
    lease_lost,
)

DUE_INDEX = "due-index"
# Every read has an index (queries, never scans): events newest first (with status and kind
# projected for filters), runs newest first, unfinished runs (sparse: only they carry its key).
EVENTS_INDEX = "events-index"
RUNS_INDEX = "runs-index"
OPEN_RUNS_INDEX = "open-runs-index"
TTL_ATTRIBUTE = "expires_at"  # DynamoDB deletes an item some time after this epoch second
DAY = 86400.0
_EVENTS = "e"
_RUNS = "r"
_HOLD = "hold#"
_RUN = "run#"
_CURSOR = "cursor#"
_QUEUE = "q"


# The table's key attributes and indexes: serverless.yml declares the same (a test compares).
TABLE_ATTRIBUTES = {
    "id": "S",
    "due": "S",
    "due_at": "N",
    "events": "S",
    "received_at": "N",
    "runs": "S",
    "open_runs": "S",
    "run_started_at": "N",
}
INDEXES: dict[str, tuple[str, str, dict[str, Any]]] = {
    DUE_INDEX: ("due", "due_at", {"ProjectionType": "KEYS_ONLY"}),
    EVENTS_INDEX: (
        "events",
        "received_at",
        {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status", "kind"]},
    ),
    RUNS_INDEX: ("runs", "run_started_at", {"ProjectionType": "ALL"}),
    OPEN_RUNS_INDEX: ("open_runs", "run_started_at", {"ProjectionType": "ALL"}),
}


def _num(value: float) -> Decimal:
    return Decimal(repr(round(value, 6)))


class DynamoDBLedger(Ledger):
    def __init__(
        self,
        table_name: str,
        *,
        endpoint_url: str | None = None,
        create: bool = False,
        tick_retention_days: float = 7,
        run_retention_days: float = 90,
    ) -> None:
        """``tick_retention_days``: how long a reconcile tick (one a minute) is kept;
        ``run_retention_days``: a finished job run. Every other event stays: the audit trail."""
        import boto3  # adapter-only import: keeps edge functions' cold start small

        self.table_name = table_name
        self.tick_retention = tick_retention_days * DAY
        self.run_retention = run_retention_days * DAY
        self._client = boto3.client("dynamodb", endpoint_url=endpoint_url)
        self._resource = boto3.resource("dynamodb", endpoint_url=endpoint_url)
        self._table = self._resource.Table(table_name)
        self._conditional_failed = self._client.exceptions.ConditionalCheckFailedException
        if create:
            self.create_table()

    def create_table(self) -> None:
        """Create the table (tests, local stacks); serverless.yml owns it on AWS."""
        existing = self._client.list_tables()["TableNames"]
        if self.table_name in existing:
            return
        self._client.create_table(
            TableName=self.table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in TABLE_ATTRIBUTES.items()
            ],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": name,
                    "KeySchema": [
                        {"AttributeName": hash_key, "KeyType": "HASH"},
                        {"AttributeName": range_key, "KeyType": "RANGE"},
                    ],
                    "Projection": projection,
                }
                for name, (hash_key, range_key, projection) in INDEXES.items()
            ],
        )
        self._client.get_waiter("table_exists").wait(TableName=self.table_name)
        self._client.update_time_to_live(
            TableName=self.table_name,
            TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        )

    # --- recording ---------------------------------------------------------------------

    def record(self, event: Event, *, now: float) -> Recorded:
        row = dict(zip(FIRST_ROW_COLUMNS, first_row(event, now), strict=True))
        # DynamoDB stores no empty attribute: a missing model, version or due_at is left out
        item: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
        item.update(
            received_at=_num(now), updated_at=_num(now), attempts=0, deliveries=1, rev=0,
            events=_EVENTS,
        )  # fmt: skip
        if row["due_at"] is not None:
            item.update(due=_QUEUE, due_at=_num(now))
        if is_housekeeping_tick(event):
            item[TTL_ATTRIBUTE] = int(now + self.tick_retention)  # one a minute: not kept
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")
            return Recorded.first(event, now)
        except self._conditional_failed:
            new = self._table.update_item(
                Key={"id": event.id},
                UpdateExpression="ADD deliveries :one",
                ExpressionAttributeValues={":one": 1},
                ReturnValues="ALL_NEW",
            )["Attributes"]
            return Recorded(record_from_row(new), created=False)

    # --- reads -------------------------------------------------------------------------

    def _item(self, event_id: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"id": event_id}, ConsistentRead=True).get("Item")

    def get(self, event_id: str) -> EventRecord | None:
        item = self._item(event_id)
        return record_from_row(item) if item else None

    def list(
        self,
        *,
        status: Status | None = None,
        kind: EventKind | None = None,
        limit: int = 100,
        everything: bool = True,
        model: str | None = None,
    ) -> list[EventRecord]:
        """Newest first: a query on the events index (status and kind are projected there, so
        filters cost no item reads); then the full items of the page, in one batch read each
        100. What ``everything=False`` and ``model`` leave out is known from the items: more
        pages are read until ``limit`` are kept."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":e": _EVENTS}
        filters: list[str] = []
        if status:
            names["#s"] = "status"
            values[":s"] = status.value
            filters.append("#s = :s")
        if kind:
            names["#k"] = "kind"
            values[":k"] = kind.value
            filters.append("#k = :k")
        query: dict[str, Any] = {
            "IndexName": EVENTS_INDEX,
            "KeyConditionExpression": "events = :e",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
            query["ExpressionAttributeNames"] = names
        kept: list[EventRecord] = []
        for page in self._pages(query, max(limit, 25)):
            if everything and model is None:  # every item is kept: read no more than needed
                page = page[: limit - len(kept)]
            found = self._batch_get([item["id"] for item in page])
            records = (record_from_row(found[i["id"]]) for i in page if i["id"] in found)
            kept += [
                r
                for r in records
                if (everything or is_listed_by_default(r.event)) and model in (None, r.model)
            ]
            if len(kept) >= limit:
                break
        return kept[:limit]

    def _query(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        """Pages of a query until ``limit`` items matched (filters apply after each page)."""
        items: list[dict[str, Any]] = []
        for page in self._pages(query, max(limit, 25)):
            items += page
            if len(items) >= limit:
                break
        return items[:limit]

    def _pages(self, query: dict[str, Any], page_size: int) -> Iterator[list[dict[str, Any]]]:
        """A query's pages while the caller reads (stopping early reads no further page)."""
        while True:
            page = self._table.query(**query, Limit=page_size)
            yield page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            query = {**query, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _batch_get(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        resource = self._resource
        for start in range(0, len(ids), 100):
            keys = [{"id": i} for i in ids[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = resource.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table_name, []):
                    found[item["id"]] = item
                request = answer.get("UnprocessedKeys") or {}
        return found

    def due_ids(self, before: float, *, limit: int = 100) -> list[str]:
        # a query on the due index (never a scan): the sparse index holds only waiting events
        page = self._table.query(
            IndexName=DUE_INDEX,
            KeyConditionExpression="due = :q AND due_at <= :before",
            ExpressionAttributeValues={":q": _QUEUE, ":before": _num(before)},
            Limit=limit,
        )
        return [i["id"] for i in page.get("Items", [])]

    def claim(
        self, event_id: str | None, *, worker: str, token: str, now: float, lease_seconds: float
    ) -> EventRecord | None:
        # The GSI is eventually consistent: every candidate is re-read consistently and
        # claimed with a condition on its revision, so a stale index entry is harmless.
        for candidate in [event_id] if event_id else self.due_ids(now, limit=10):
            item = self._item(candidate)
            if not item or Status(item["status"]) not in CLAIMABLE:
                continue
            if "due_at" not in item or float(item["due_at"]) > now:
                continue
            reclaimed = Status(item["status"]) is Status.RUNNING
            entry = history_entry(
                now,
                Status.RUNNING,
                attempt=int(item["attempts"]) + 1,
                worker=worker,
                note="lease expired; reclaimed" if reclaimed else None,
            )
            try:
                new = self._table.update_item(
                    Key={"id": candidate},
                    UpdateExpression=(
                        "SET #s = :running, attempts = attempts + :one, worker = :w,"
                        " lease_token = :t, started_at = :now, updated_at = :now,"
                        " due_at = :lease, #h = :h, rev = rev + :one"
                    ),
                    ConditionExpression="rev = :rev",
                    ExpressionAttributeNames={"#s": "status", "#h": "history"},
                    ExpressionAttributeValues={
                        ":running": Status.RUNNING.value,
                        ":one": 1,
                        ":w": worker,
                        ":t": token,
                        ":now": _num(now),
                        ":lease": _num(now + lease_seconds),
                        ":h": append_history(item.get("history"), entry),
                        ":rev": item["rev"],
                    },
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            except self._conditional_failed:
                continue  # someone else got it first
            return record_from_row(new)
        return None

    def heartbeat(self, event_id: str, *, token: str, until: float, now: float) -> bool:
        try:
            self._table.update_item(
                Key={"id": event_id},
                UpdateExpression="SET due_at = :until, updated_at = :now",
                ConditionExpression="#s = :running AND lease_token = :t",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":until": _num(until),
                    ":now": _num(now),
                    ":running": Status.RUNNING.value,
                    ":t": token,
                },
            )
            return True
        except self._conditional_failed:
            return False

    def _finish(
        self,
        event_id: str,
        token: str,
        now: float,
        status: Status,
        *,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
        due_at: float | None = None,
    ) -> None:
        item = self._item(event_id)
        running = item and item.get("status") == Status.RUNNING.value
        if not running or item.get("lease_token") != token:  # type: ignore[union-attr]
            raise lease_lost(event_id)
        retry_at = ts(due_at).isoformat() if due_at is not None else None  # type: ignore[union-attr]
        entry = history_entry(now, status, error=error, retry_at=retry_at)
        sets = [
            "#s = :status",
            "updated_at = :now",
            "finished_at = :now",
            "#h = :h",
            "rev = rev + :one",
        ]
        values: dict[str, Any] = {
            ":status": status.value,
            ":now": _num(now),
            ":h": append_history(item.get("history"), entry),
            ":one": 1,
            ":t": token,
            ":rev": item["rev"],
        }
        removes = ["lease_token"]
        if outcome is not None:
            sets.append("outcome = :o")
            values[":o"] = json.dumps(outcome)
        if error is not None:
            sets.append("last_error = :e")
            values[":e"] = error
        else:
            removes.append("last_error")
        if due_at is not None:
            sets.append("due_at = :due")
            values[":due"] = _num(due_at)
        else:
            removes += ["due", "due_at"]
        try:
            self._table.update_item(
                Key={"id": event_id},
                UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                ConditionExpression="rev = :rev AND lease_token = :t",
                ExpressionAttributeNames={"#s": "status", "#h": "history"},
                ExpressionAttributeValues=values,
            )
        except self._conditional_failed:
            raise lease_lost(event_id) from None

    def acquire(self, name: str, holder: str, *, now: float, until: float | None = None) -> Hold:
        key = {"id": _HOLD + name}
        item: dict[str, Any] = {**key, "holder": holder, "since": _num(now)}
        if until is not None:
            item["until"] = _num(until)
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(id)"
                " OR (attribute_exists(#until) AND #until <= :now)",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": _num(now)},
            )
            return Hold(name, holder, now, until)
        except self._conditional_failed:
            pass
        current = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        if current is None:  # released in between: try once more
            return self.acquire(name, holder, now=now, until=until)
        if current["holder"] != holder:
            held_until = current.get("until")
            return Hold(
                name,
                current["holder"],
                float(current["since"]),
                None if held_until is None else float(held_until),
            )
        try:  # already ours (a retried handler): keep it, with the new end
            self._table.update_item(
                Key=key,
                UpdateExpression="SET #until = :u" if until is not None else "REMOVE #until",
                ConditionExpression="#holder = :h",
                ExpressionAttributeNames={"#holder": "holder", "#until": "until"},
                ExpressionAttributeValues={":h": holder}
                | ({":u": _num(until)} if until is not None else {}),
            )
        except self._conditional_failed:
            return self.acquire(name, holder, now=now, until=until)
        return Hold(name, holder, float(current["since"]), until)

    def release(self, name: str, holder: str) -> bool:
        try:
            self._table.delete_item(
                Key={"id": _HOLD + name},
                ConditionExpression="#holder = :h",
                ExpressionAttributeNames={"#holder": "holder"},
                ExpressionAttributeValues={":h": holder},
            )
            return True
        except self._conditional_failed:
            return False

    def get_cursor(self, name: str) -> str | None:
        item = self._table.get_item(Key={"id": _CURSOR + name}, ConsistentRead=True).get("Item")
        return None if item is None else str(item["value"])

    def save_cursor(self, name: str, value: str, *, now: float) -> None:
        self._table.put_item(Item={"id": _CURSOR + name, "value": value, "updated_at": _num(now)})

    def save_run(self, run: JobRun) -> None:
        item: dict[str, Any] = {
            "id": _RUN + run.run_id,
            "runs": _RUNS,
            "run_started_at": _num(run.started_at),
            "run_finished": run.state.finished,
            "doc": run.model_dump_json(),
        }
        if run.state.finished:
            ended = run.ended_at if run.ended_at is not None else run.started_at
            item[TTL_ATTRIBUTE] = int(ended + self.run_retention)
        else:
            item["open_runs"] = _RUNS  # in the sparse index of unfinished runs
        self._table.put_item(Item=item)

    def get_run(self, run_id: str) -> JobRun | None:
        item = self._item(_RUN + run_id)
        return JobRun.model_validate_json(item["doc"]) if item else None

    def list_runs(self, *, unfinished: bool = False, limit: int = 100) -> list[JobRun]:
        query = {
            "IndexName": OPEN_RUNS_INDEX if unfinished else RUNS_INDEX,
            "KeyConditionExpression": ("open_runs" if unfinished else "runs") + " = :r",
            "ExpressionAttributeValues": {":r": _RUNS},
            "ScanIndexForward": False,  # newest first
        }
        return [JobRun.model_validate_json(i["doc"]) for i in self._query(query, limit)]

    def requeue(self, event_id: str, *, now: float, reason: str = "replay") -> EventRecord:
        item = self._item(event_id)
        if not item:
            raise LedgerError(f"no event with id {event_id}")
        entry = history_entry(now, Status.RECEIVED, note=reason)
        new = self._table.update_item(
            Key={"id": event_id},
            UpdateExpression=(
                "SET #s = :received, attempts = :zero, due = :q, due_at = :now,"
                " updated_at = :now, #h = :h, rev = rev + :one REMOVE lease_token, worker"
            ),
            ExpressionAttributeNames={"#s": "status", "#h": "history"},
            ExpressionAttributeValues={
                ":received": Status.RECEIVED.value,
                ":zero": 0,
                ":q": _QUEUE,
                ":now": _num(now),
                ":h": append_history(item.get("history"), entry),
                ":one": 1,
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return record_from_row(new)
