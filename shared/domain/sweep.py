"""The registry sweep's decision (pure): from what a registry holds now, the events its webhooks
would have produced, with the same keys, so a version announced by a webhook and found by the
sweep is one event.

Versions are found by creation time, after a watermark kept in the ledger (a cursor). The
watermark trails the newest version seen by ``overlap_ms``, and the cursor remembers the keys
already raised in that overlap: a version committed late with an earlier timestamp is still
found, and nothing is raised twice by the sweep itself (the ledger would collapse it anyway).

Promotion requests (a challenger alias, the promote tag, an open transition request) carry no
time in MLflow: the cursor keeps the set in force at the last sweep, and a request not in it is
new. The first sweep of a registry (no cursor) raises the requests on the versions it finds
created in the look-back, and takes the others as they are (they were made before mlops-hooks
watched); ``sweep --since`` raises every request in force.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event, Source

OVERLAP_MS = 10_000  # how far behind the newest version seen the next sweep starts


@dataclass(frozen=True)
class RegistryChange:
    """One thing the registry sweep found: a version created, or a promotion asked for."""

    kind: str  # "version_created" | "alias" | "tag" | "transition_request"
    model: str
    version: str
    # version_created: when the registry says it was created (epoch ms); the others are state
    # in force now (MLflow records no time for an alias or a tag)
    at_ms: int | None = None
    value: str | None = None  # the alias, the tag's value, the requested stage


@dataclass(frozen=True)
class ChangeScan:
    """What one sweep of a registry found, and what finding it cost."""

    changes: list[RegistryChange]
    calls: int  # registry API calls made


@dataclass(frozen=True)
class SweepCursor:
    """Where the last sweep of one registry (and workspace) got to."""

    created_ms: int  # versions created at or after this are read next time
    recent: frozenset[str] = frozenset()  # keys raised at or after created_ms
    requests: frozenset[str] = frozenset()  # keys of the requests in force last time

    def to_json(self) -> str:
        return json.dumps(
            {
                "created_ms": self.created_ms,
                "recent": sorted(self.recent),
                "requests": sorted(self.requests),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> SweepCursor | None:
        """None for a missing or unreadable cursor: the sweep then starts from its look-back
        (what it raises again, the ledger collapses by key)."""
        if not text:
            return None
        try:
            doc = json.loads(text)
            return cls(
                int(doc["created_ms"]),
                frozenset(map(str, doc.get("recent", []))),
                frozenset(map(str, doc.get("requests", []))),
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class SweepRules:
    """How a registry's state maps to events: the same rules as the webhook mapping."""

    registry: str  # "mlflow", "databricks": part of every key
    workspace: str | None
    challenger_alias: str
    champion_alias: str
    promote_tag: str
    overlap_ms: int = OVERLAP_MS
    source: Source = Source.SWEEP  # who found it (the keys do not depend on it)


@dataclass
class SweepDecision:
    events: list[Event]
    cursor: SweepCursor
    found: int  # versions and requests seen, new or not
    baseline: int = 0  # requests in force taken as they are on a first sweep

    @property
    def counts(self) -> dict[str, int]:
        """What is raised, by kind."""
        return dict(Counter(e.kind.value for e in self.events))


def start_ms(
    cursor: SweepCursor | None, *, now_ms: int, lookback_ms: int, since_ms: int | None
) -> int:
    """Where this sweep starts: ``--since`` if given; else the watermark, but never further
    back than the look-back (after a long downtime the catch-up is bounded)."""
    if since_ms is not None:
        return since_ms
    floor = now_ms - lookback_ms
    return floor if cursor is None else max(cursor.created_ms, floor)


def decide(
    changes: list[RegistryChange],
    cursor: SweepCursor | None,
    rules: SweepRules,
    *,
    start: int,
    explicit: bool = False,
) -> SweepDecision:
    """The events to record and the cursor to save once they are recorded."""
    where = {"registry": rules.registry, "workspace": rules.workspace}
    raised: list[Event] = []
    created = [c for c in changes if c.kind == "version_created" and (c.at_ms or 0) >= start]
    prior = None if explicit else cursor  # --since reads as if nothing was seen before
    recent = prior.recent if prior is not None else frozenset()
    created_keys: dict[str, int] = {}
    for change in sorted(created, key=lambda c: (c.at_ms or 0, c.model, c.version)):
        event = events.model_registered(
            rules.source,
            change.model,
            change.version,
            occurred_at=datetime.fromtimestamp((change.at_ms or 0) / 1000, UTC),
            payload=_payload(change),
            **where,
        )
        created_keys[event.key] = change.at_ms or 0
        if event.key not in recent:
            raised.append(event)
    newest = max(created_keys.values(), default=start)
    watermark = max(start, newest - rules.overlap_ms)
    new_versions = {(c.model, c.version) for c in created}

    in_force: dict[str, Event] = {}
    for change in changes:
        request = _request(change, rules, where)
        if request is not None:
            in_force.setdefault(request.key, request)
    first = cursor is None and not explicit
    if prior is not None:
        known = prior.requests
    elif first:  # only what the look-back covers; the rest was there before we watched
        known = frozenset(
            k for k, e in in_force.items() if (e.model, e.version) not in new_versions
        )
    else:
        known = frozenset()
    raised.extend(e for k, e in in_force.items() if k not in known)
    return SweepDecision(
        events=raised,
        cursor=SweepCursor(
            watermark,
            frozenset(k for k, at in created_keys.items() if at >= watermark),
            frozenset(in_force),
        ),
        found=len(created) + len(in_force),
        baseline=len(known) if first else 0,
    )


def _request(change: RegistryChange, rules: SweepRules, where: dict[str, Any]) -> Event | None:
    """The promotion request a change stands for, keyed as its webhook's would be."""
    if change.kind == "alias" and change.value == rules.challenger_alias:
        return events.promotion_requested(
            rules.source,
            change.model,
            change.version,
            rules.champion_alias,
            alias=rules.challenger_alias,
            payload=_payload(change),
            **where,
        )
    if change.kind in ("tag", "transition_request") and change.value:
        return events.promotion_requested(
            rules.source,
            change.model,
            change.version,
            change.value,
            payload=_payload(change),
            **where,
        )
    return None


def _payload(change: RegistryChange) -> dict[str, Any]:
    found = {"found": change.kind, "model": change.model, "version": change.version}
    if change.value is not None:
        found["value"] = change.value
    if change.at_ms is not None:
        found["at_ms"] = change.at_ms
    return {"sweep": found}


class UpdatesError(PermanentError, ValueError):
    """A model update trigger's updates that cannot be read; the message is one line."""


def trigger_events(updates_json: str, rules: SweepRules) -> list[Event]:
    """The events a Databricks model update trigger's updates (``{{job.trigger.model.updates}}``:
    ``[{"full_name", "version", "alias_name"}]``) stand for, with the keys the sweep gives the
    same changes: a version ready is ``model_registered``, a challenger alias set a promotion
    request; a model created (no version) and other aliases are nothing to act on."""
    try:
        updates = json.loads(updates_json or "[]")
    except ValueError as exc:
        raise UpdatesError(f"the updates are not JSON: {exc}") from None
    if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
        raise UpdatesError("the updates are not a JSON list of objects")
    where = {"registry": rules.registry, "workspace": rules.workspace}
    found: dict[str, Event] = {}
    for update in updates:
        model, version, alias = (update.get(k) for k in ("full_name", "version", "alias_name"))
        if not isinstance(model, str) or not model or version is None:
            continue
        if isinstance(version, bool) or not str(version).isdigit():
            raise UpdatesError(f"{model}: version {version!r} is not a version number")
        version = str(int(str(version)))
        if alias is None:
            event = events.model_registered(
                rules.source, model, version, payload={"trigger": update}, **where
            )
        else:
            change = RegistryChange("alias", model, version, value=str(alias))
            request = _request(change, rules, where)
            if request is None:
                continue
            event = request.model_copy(update={"payload": {"trigger": update}})
        found.setdefault(event.key, event)
    return list(found.values())
