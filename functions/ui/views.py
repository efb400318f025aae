"""What the pages show, built from what the ledger, the registry and the tables recorded
(pure: records in, plain dicts out; the templates only lay them out)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.ledger import EventRecord

APPROVAL_ENDS = frozenset({"approved", "rejected"})

# payload keys never rendered: a Slack response_url lets whoever holds it post as the app
HIDDEN_KEYS = ("response_url", "token", "secret", "signature", "password", "authorization")


def redacted(value: Any) -> Any:
    """``value`` with every key that names a secret (or a response_url) replaced by a mark."""
    if isinstance(value, dict):
        return {
            k: "(hidden)" if any(h in str(k).lower() for h in HIDDEN_KEYS) else redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def result_of(record: EventRecord) -> str:
    """The handler's result, or the status when there is none (yet)."""
    return str((record.outcome or {}).get("result") or record.status.value)


def _decisions(records: list[EventRecord]) -> dict[Any, EventRecord]:
    """Promotion request id -> the approval event that approved or rejected it."""
    return {
        r.event.payload.get("request_id"): r
        for r in records
        if r.kind is EventKind.APPROVAL and (r.outcome or {}).get("result") in APPROVAL_ENDS
    }


def model_rows(records: list[EventRecord]) -> dict[str, dict[str, Any]]:
    """Per model (newest records first in ``records``): the last verdict, decision, drift and
    live status, and the promotion requests still waiting for a reviewer."""
    models: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"verdict": None, "decision": None, "drift": None, "live": None, "waiting": []}
    )
    decided = set(_decisions(records))
    for r in records:  # newest first: the first seen of each is the last
        if r.kind is EventKind.LABELS_LANDED:  # about the models its outcome names
            for part in ((r.outcome or {}).get("data") or {}).get("models", []):
                row = models[str(part.get("model"))]
                if row["live"] is None:
                    row["live"] = {"result": "measured", "summary": part.get("summary", "")}
            continue
        if not r.model:
            continue
        row = models[r.model]
        result = result_of(r)
        if r.kind is EventKind.MODEL_REGISTERED and row["verdict"] is None and r.outcome:
            row["verdict"] = {"version": r.version, "result": result, "id": r.id}
        elif r.kind is EventKind.PROMOTION_REQUESTED and r.outcome:
            if result == "awaiting_approval" and r.id not in decided:
                row["waiting"].append({"version": r.version, "id": r.id})
            if row["decision"] is None:
                row["decision"] = {"version": r.version, "result": result, "id": r.id}
        elif r.kind is EventKind.SCHEDULED and r.event.task == "drift_check" and r.outcome:
            if row["drift"] is None and result in ("drifted", "no_drift"):
                row["drift"] = {"result": result, "summary": r.outcome.get("summary", "")}
        elif r.kind is EventKind.PERFORMANCE_DEGRADED and row["live"] is None:
            row["live"] = {"result": "degraded", "summary": r.event.reason or ""}
    return dict(sorted(models.items()))


def version_rows(records: list[EventRecord], model: str) -> list[dict[str, Any]]:
    """The versions of ``model`` the ledger saw, newest first: verdict and failing checks,
    the comparison's decision and interval, who approved or rejected it and when."""
    versions: dict[str, dict[str, Any]] = {}
    approvals = _decisions(records)
    for r in records:
        if r.model != model or not r.version:
            continue
        row = versions.setdefault(
            r.version, {"version": r.version, "verdict": None, "failed": [], "decision": None}
        )
        data = (r.outcome or {}).get("data") or {}
        if r.kind is EventKind.MODEL_REGISTERED and r.outcome and row["verdict"] is None:
            row["verdict"] = result_of(r)
            checks = data.get("checks") or {}
            row["failed"] = [name for name, status in checks.items() if status == "failed"]
        elif r.kind is EventKind.PROMOTION_REQUESTED and r.outcome and row["decision"] is None:
            row["decision"] = {
                "result": result_of(r),
                "evidence": r.event.payload.get("evidence", "holdout"),
                "delta": data.get("delta"),
                "interval": data.get("interval"),
                "reasons": data.get("reasons", []),
            }
            approval = approvals.get(r.id)
            if approval is not None:
                row["approval"] = {
                    "result": result_of(approval),
                    "by": (approval.outcome or {}).get("data", {}).get("by"),
                    "at": (approval.outcome or {}).get("data", {}).get("at"),
                }
    return sorted(versions.values(), key=_version_order, reverse=True)


def _version_order(row: dict[str, Any]) -> tuple[int, str]:
    version = str(row["version"])
    return (int(version), "") if version.isdigit() else (-1, version)
