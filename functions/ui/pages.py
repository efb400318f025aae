"""Load what each page shows (ledger, registry, policy) and hand it to the pure views.

A registry that does not answer is said on the page (the ledger's facts still show), never
a 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops_hooks.functions.errors import Rejected
from mlops_hooks.functions.ui import views
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import EventRecord, Status

EVENTS_READ = 5000  # the newest records an events page filtered by time looks through


@dataclass(frozen=True)
class EventFilters:
    kind: EventKind | None
    status: Status | None
    model: str
    since: datetime | None
    everything: bool
    limit: int

    @classmethod
    def parse(
        cls, kind: str, status: str, model: str, since: str, everything: bool, limit: int
    ) -> EventFilters:
        """The query's filters; 400 with one line for a value that is not one."""
        try:
            found_kind = EventKind(kind) if kind else None
        except ValueError:
            raise Rejected(400, f"kind: no event kind {kind!r}") from None
        try:
            found_status = Status(status) if status else None
        except ValueError:
            raise Rejected(400, f"status: no status {status!r}") from None
        when = None
        if since:
            try:
                when = datetime.fromisoformat(since)
            except ValueError:
                raise Rejected(400, f"since: {since!r} is not a date or time (ISO 8601)") from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return cls(found_kind, found_status, model.strip(), when, everything, limit)

    def query(self) -> dict[str, str]:
        return {
            "kind": self.kind.value if self.kind else "",
            "status": self.status.value if self.status else "",
            "model": self.model,
            "since": self.since.isoformat() if self.since else "",
        }


def _said(exc: Exception) -> str:
    """An error as a page says it: its type and the start of its message."""
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _aliases(runtime: Any, model: str, record: EventRecord | None) -> dict[str, Any]:
    """Champion, challenger and previous champion as the registry names them now."""
    deps = runtime.dispatcher.deps
    policy = deps.policy_for(model)
    names = policy.aliases
    found: dict[str, Any] = {"mode": policy.promotion.mode, "deployment": policy.deployment.mode}
    try:
        registry = deps.registry_for(
            record.event.registry if record else "mlflow",
            record.event.workspace if record else None,
        )
        found["champion"] = registry.champion_version(
            model, alias=names.champion, stage=policy.promotion.target_stage
        )
        found["challenger"] = registry.get_alias(model, names.challenger)
        found["previous"] = registry.get_alias(model, names.previous)
        found["registry"] = registry
    except Exception as exc:  # said on the page; the ledger's facts still show
        found["registry_error"] = _said(exc)
    return found


# per model, the newest events of each kind its row is made of (read by kind and model: a
# ledger of a million events costs the page no more than one of a hundred)
ROW_KINDS = {
    EventKind.MODEL_REGISTERED: 5,
    EventKind.PROMOTION_REQUESTED: 50,
    EventKind.SCHEDULED: 50,  # the drift checks among them (housekeeping ticks left out)
    EventKind.PERFORMANCE_DEGRADED: 1,
}
SHARED_KINDS = {EventKind.APPROVAL: 500, EventKind.LABELS_LANDED: 50}  # carry no model
REPORTED_VERSIONS = 10  # the newest versions whose reports a model page shows


def _about(ledger: Any, model: str | None, kinds: dict[EventKind, int]) -> list[EventRecord]:
    found = [
        r
        for kind, limit in kinds.items()
        for r in ledger.list(kind=kind, model=model, limit=limit, everything=False)
    ]
    return _newest_first(found)


def models(runtime: Any) -> dict[str, Any]:
    ledger = runtime.dispatcher.ledger
    mine = {name: _about(ledger, name, ROW_KINDS) for name in ledger.models()}
    everyone = [r for records in mine.values() for r in records]
    rows = views.model_rows(_newest_first(everyone + _about(ledger, None, SHARED_KINDS)))
    shown = {}
    for name, records in mine.items():
        if name not in rows:
            continue
        row = rows[name]
        row.update(_aliases(runtime, name, records[0] if records else None))
        row.pop("registry", None)
        shown[name] = row
    return {"models": shown}


def _newest_first(records: list[EventRecord]) -> list[EventRecord]:
    return sorted(records, key=lambda r: r.received_at, reverse=True)


def model(runtime: Any, name: str) -> dict[str, Any] | None:
    from mlops_hooks.functions.ui.render import sections

    ledger = runtime.dispatcher.ledger
    mine = _about(
        ledger, name, {EventKind.MODEL_REGISTERED: 2000, EventKind.PROMOTION_REQUESTED: 4000}
    )
    if not mine and name not in ledger.models():
        return None
    records = _newest_first(mine + _about(ledger, None, {EventKind.APPROVAL: 2000}))
    aliases = _aliases(runtime, name, mine[0] if mine else None)
    registry = aliases.pop("registry", None)
    versions = views.version_rows(records, name)
    for n, row in enumerate(versions):
        row["reports"], row["url"] = [], None
        if registry is None or n >= REPORTED_VERSIONS:
            continue
        try:
            row["reports"] = sections(registry.get_version(name, row["version"]).description)
            row["url"] = registry.version_url(name, row["version"])
        except Exception as exc:
            row["report_error"] = _said(exc)
    from mlops_hooks.functions.run_logs import log_tail

    runs = [
        {
            "run": r,
            "started": datetime.fromtimestamp(r.started_at, UTC).isoformat(timespec="seconds"),
            "tail": log_tail(r.log_path, 20) if r.log_path else None,
        }
        for r in runtime.dispatcher.ledger.list_runs(limit=200)
        if r.params.get("model") == name
    ]
    return {
        "name": name,
        "aliases": aliases,
        "versions": versions,
        "reported": REPORTED_VERSIONS,
        "runs": runs[:20],
        "charts": _charts(runtime, name),
        # the worst features' histograms each drift alarm logged to the champion's run
        "drift_images": [
            (r.received_at.strftime("%Y-%m-%d %H:%M"), url)
            for r in ledger.list(model=name, kind=EventKind.DRIFT_DETECTED, limit=5)
            if (url := ((r.outcome or {}).get("data") or {}).get("histograms"))
        ],
    }


def _charts(runtime: Any, name: str) -> dict[str, Any]:
    """The drift and live charts' specs (as JSON for the page), or why one is not there."""
    from mlops_hooks.functions.ui.charts import as_script_json, drift_chart, live_chart
    from mlops_hooks.handlers.common import model_table
    from mlops_hooks.shared.domain.live import newest_live_metrics

    deps = runtime.dispatcher.deps
    policy = deps.policy_for(name)
    found: dict[str, Any] = {}
    tables = deps.tables
    if tables is None:
        return {"note": "no table reader in this deployment: no charts"}
    where = {
        "drift": model_table(
            deps, name, "monitoring", given=policy.jobs.drift_check.params.get("monitoring_table")
        ),
        "live": model_table(deps, name, "live_metrics"),
    }
    for chart, uri in where.items():
        try:
            if tables.rows(uri) is None:
                continue
            rows = tables.read(uri, "delta")
            if chart == "drift":
                spec = drift_chart(rows, warn=policy.drift.psi_warn, drift=policy.drift.psi_drift)
            else:
                metric = policy.live.metric or policy.comparison.metric
                if metric not in rows.columns:
                    continue
                spec = live_chart(newest_live_metrics(rows), metric, floor=policy.live.floor)
            found[chart] = as_script_json(spec)
        except Exception as exc:  # said on the page; the rest of it still shows
            found[f"{chart}_error"] = _said(exc)
    return found


def events(runtime: Any, filters: EventFilters) -> dict[str, Any]:
    found = runtime.dispatcher.ledger.list(
        status=filters.status,
        kind=filters.kind,
        model=filters.model or None,
        limit=EVENTS_READ if filters.since else filters.limit,
        everything=filters.everything,
    )
    if filters.since:
        found = [r for r in found if r.received_at >= filters.since]
    return {
        "records": found[: filters.limit],
        "filters": filters.query(),
        "kinds": [k.value for k in EventKind],
        "statuses": [s.value for s in Status],
        "everything": filters.everything,
    }


def event(runtime: Any, event_id: str) -> dict[str, Any] | None:
    ledger = runtime.dispatcher.ledger
    record = ledger.get(event_id)
    if record is None:
        return None
    children = ledger.children(record.id)
    return {
        "record": record,
        "payload": views.redacted(record.event.model_dump(mode="json")),
        "outcome": views.redacted(record.outcome),
        "parent": record.event.parent_id,
        "children": children,
    }


def replay(runtime: Any, event_id: str, user: str, request_id: str) -> str:
    """Queue the event again through a recorded ``replay`` action (source ui, who); the
    action's id. 404 for an event that does not exist (nothing is recorded)."""
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import Source

    dispatcher = runtime.dispatcher
    if dispatcher.ledger.get(event_id) is None:
        raise Rejected(404, f"no event with id {event_id}")
    action = events.action(
        "replay", {"event_id": event_id}, request_id, user=user, source=Source.UI
    )
    return dispatcher.submit(action).id
