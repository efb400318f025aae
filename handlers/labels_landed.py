"""labels_landed: true outcomes landed under a model's ``data.labels`` prefix -> joined with the
predictions -> live metrics per version per day.

The object is appended to the model's labels Delta table (with the time it landed), so a late
label is joined when it arrives and every later computation sees every label so far. The
predictions table (batch inference's output, every version's prediction beside the served
one) is joined with all the labels; duplicate, unknown-id and late labels and unlabelled
predictions are counted in the outcome and the message, never dropped silently. The live
metrics of every score date and version are appended to the model's ``live_metrics`` table
with the time they were computed (the newest computation of a day is the one in force).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_hooks.handlers.common import live_join, model_table
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.notifier import Notification
from mlops_hooks.shared.ports.outcome import Outcome

if TYPE_CHECKING:
    import pandas as pd

    from mlops_hooks.shared.domain.policy import ModelPolicy


def live_metric_names(policy: ModelPolicy) -> list[str]:
    """Pure: the policy's metrics, the comparison's primary first, then its guardrails and the
    validation thresholds (each once)."""
    names = [policy.comparison.metric, *policy.comparison.guardrails]
    if policy.checks.metrics is not None:
        names += list(policy.checks.metrics.thresholds)
    return list(dict.fromkeys(names))


def positive_of(policy: ModelPolicy, labels: pd.Series) -> Any:
    """The positive class: the policy's, else the larger of the labels (scikit-learn's)."""
    if policy.holdout.positive_label is not None:
        return policy.holdout.positive_label
    values = sorted(str(v) for v in labels.dropna().unique())
    return values[-1] if values else "1"


def handle(event: Event, deps: Deps) -> Outcome:
    if not (event.bucket and event.object_key):
        raise PermanentError("labels_landed event without bucket and object key")
    uri = f"s3://{event.bucket}/{event.object_key}"
    watchers = deps.loaded_policy().label_watchers(event.bucket, event.object_key)
    if not watchers:
        return Outcome(result="skipped", summary=f"no model's data.labels covers {uri}")
    tables = deps.need("tables")
    landed = tables.read(uri)
    results = [_for_model(deps, event, model, policy, landed) for model, policy in watchers]
    emit = [child for r in results for child in r.pop("emit")]
    return Outcome(
        result="joined",
        summary="; ".join(r["summary"] for r in results),
        data={"uri": uri, "models": results},
        emit=emit,
    )


def labels_from_table(event: Event, deps: Deps) -> Outcome:
    """A scheduled read of the model's labels Delta table (``data.labels.table``): the rows not
    joined before are joined as if they had just landed; none new, nothing to do."""
    from mlops_hooks.handlers.common import scheduled_model

    model, policy, _, _ = scheduled_model(event, deps)
    spec = policy.data.labels
    if spec is None or spec.table is None:
        raise PermanentError(f"{model} has no data.labels.table to read on a schedule")
    tables = deps.need("tables")
    source = tables.read(spec.table, "delta")
    fresh = _not_joined_yet(tables, model_table(deps, model, "labels"), source, spec)
    if fresh.empty:
        return Outcome(result="skipped", summary=f"no new labels in {spec.table}")
    result = _for_model(deps, event, model, policy, fresh)
    emit = result.pop("emit")
    return Outcome(
        result="joined",
        summary=f"{len(fresh):,} new labels from {spec.table}; {result['summary']}",
        data={"table": spec.table, "models": [result]},
        emit=emit,
    )


def _not_joined_yet(tables: Any, joined_uri: str, source: pd.DataFrame, spec: Any) -> pd.DataFrame:
    """The source's rows that our labels table does not hold yet (by id, label and score date
    when given): a table read every tick contributes each row once."""
    if tables.rows(joined_uri) is None:
        return source
    keys = [spec.id_column, spec.label_column, *_dated(source)]
    held = tables.read(joined_uri, "delta")[keys].astype(str).drop_duplicates()
    marked = source.astype({k: str for k in keys}).merge(held, on=keys, how="left", indicator=True)
    return source[(marked["_merge"] == "left_only").to_numpy()]


def _for_model(
    deps: Deps, event: Event, model: str, policy: ModelPolicy, landed: pd.DataFrame
) -> dict[str, Any]:
    from mlops_hooks.shared.domain.live import live_metrics

    spec = policy.data.labels
    assert spec is not None  # label_watchers found it
    missing = [c for c in (spec.id_column, spec.label_column) if c not in landed.columns]
    if missing:
        raise PermanentError(f"the labels have no {', '.join(map(repr, missing))} column")
    tables = deps.need("tables")
    labels_uri = model_table(deps, model, "labels")
    fresh = landed[[spec.id_column, spec.label_column, *_dated(landed)]].reset_index(drop=True)
    fresh[spec.label_column] = fresh[spec.label_column].astype(str)
    fresh[spec.id_column] = fresh[spec.id_column].astype(str)
    fresh["landed_at"] = event.occurred_at.astimezone(UTC)
    fresh["labels_event"] = event.id
    if not _already_appended(tables, labels_uri, event.id):
        tables.append(labels_uri, fresh)  # a retried or replayed event appends its labels once
    joined = live_join(deps, model, policy)
    names = live_metric_names(policy)
    live = live_metrics(joined.joined, names, positive=positive_of(policy, joined.joined["label"]))
    live.insert(0, "model", model)
    live["computed_at"] = datetime.fromtimestamp(deps.clock.now(), UTC)
    live["score_date"] = live["score_date"].astype(str)
    tables.append(model_table(deps, model, "live_metrics"), live)
    summary = f"{model}: {joined.summary()}"
    degraded = _degraded(deps, event, model, policy, live)
    if degraded is not None:
        summary += f"; {degraded.reason}"
    asked = _live_requests(event, model, policy, joined.joined)
    if asked:
        summary += f"; live evidence enough to compare v{', v'.join(e.version for e in asked)}"
    deps.notifier.notify(
        Notification(
            title=f"{model}: labels joined with predictions",
            text=joined.summary(),
            verdict="info",
            facts=[(k.replace("_", " "), f"{v:,}") for k, v in joined.counts.items()],
        )
    )
    return {
        "model": model,
        "summary": summary,
        "counts": joined.counts,
        "days": sorted(set(live["score_date"])),
        "metrics": names,
        "emit": ([degraded] if degraded is not None else []) + asked,
    }


def _live_requests(
    event: Event, model: str, policy: ModelPolicy, joined: pd.DataFrame
) -> list[Event]:
    """A promotion request (evidence live) for each shadow or split challenger with enough
    labelled rows: once per version (the key carries the evidence)."""
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import Source

    deployment = policy.deployment
    if deployment.mode == "single":
        return []
    labelled = joined[joined["label"].notna()]
    if deployment.mode == "split":
        labelled = labelled[labelled["served"]]
    champions = set(joined.loc[joined["arm"] == "champion", "version"].astype(str))
    counts = labelled["version"].astype(str).value_counts()
    return [
        events.promotion_requested(
            Source.HANDLER,
            model,
            version,
            policy.aliases.champion,
            registry=event.registry,
            evidence="live",
            reason=f"live evidence: {int(rows):,} labelled rows",
        )
        for version, rows in counts.items()
        if version not in champions and rows >= deployment.evidence_rows
    ]


def _degraded(
    deps: Deps, event: Event, model: str, policy: ModelPolicy, live: pd.DataFrame
) -> Event | None:
    """The champion's concept drift, as a performance_degraded event (keyed by model and the
    last day checked: labels landing again for the same days raise it once)."""
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.live import degradation

    rule = policy.live
    metric = rule.metric or policy.comparison.metric
    serving = live[live["arm"].str.contains("champion")]
    if serving.empty:
        return None
    champion = str(serving.sort_values("score_date")["version"].iloc[-1])
    found = degradation(
        live,
        version=champion,
        metric=metric,
        floor=rule.floor,
        allowance=rule.allowance,
        baseline=_holdout_value(deps, event, model, champion, metric) if rule.allowance else None,
        violations=rule.violations,
        window=rule.window,
        min_labelled_rows=rule.min_labelled_rows,
    )
    if found is None:
        return None
    return events.performance_degraded(
        model,
        found.days[-1]["score_date"],
        registry=event.registry,
        reason=found.summary(),
        payload={
            "metric": metric,
            "version": champion,
            "rule": found.rule,
            "limit": found.limit,
            "days": found.days,
        },
    )


def _holdout_value(deps: Deps, event: Event, model: str, version: str, metric: str) -> float | None:
    """The champion's metric on its training holdout (the train job logs holdout_<metric>)."""
    registry = deps.registry_for(event.registry, event.workspace)
    run_id = registry.get_version(model, version).run_id
    if not run_id:
        return None
    return registry.lineage(run_id).metrics.get(f"holdout_{metric}")


def _dated(frame: pd.DataFrame) -> list[str]:
    return ["score_date"] if "score_date" in frame.columns else []


def _already_appended(tables: Any, uri: str, event_id: str) -> bool:
    if tables.rows(uri) is None:  # no labels table yet
        return False
    recorded = tables.read(uri, "delta")
    return "labels_event" in recorded.columns and bool((recorded["labels_event"] == event_id).any())
