"""model_registered: wait until the version is READY, validate it, and say so everywhere.

Report (managed description section / registry comment) → tags → notification → if it passed
and the policy asks, a promotion request, which also comes back as a ``promotion_requested``
event through the ledger (the same key as the registry's own webhook, so it runs once).
Re-running (replay, a second delivery) rewrites the same report and tags: it is idempotent.
"""

from __future__ import annotations

from mlops_hooks.handlers.common import model_version_of, now_iso
from mlops_hooks.shared import events
from mlops_hooks.shared.dispatch import Outcome
from mlops_hooks.shared.events import Event, Source
from mlops_hooks.shared.ports import Deps, Notification

SECTION = "validation"
READY_TIMEOUT_SECONDS = 300


def handle(event: Event, deps: Deps) -> Outcome:
    from mlops_hooks.shared.reports import validation_markdown
    from mlops_hooks.shared.validation import validate

    name, version, policy, registry = model_version_of(event, deps)
    model_version = registry.wait_ready(name, version, timeout=READY_TIMEOUT_SECONDS)

    tables = deps.tables
    holdout = policy.holdout
    read_holdout = None
    if tables is not None and holdout.uri:
        uri = holdout.uri

        def read_holdout():  # read only if a check needs it
            return tables.read(uri, holdout.format, sample_rows=holdout.sample_rows)

    loaded = []

    def load_model():
        loaded.append(registry.load_model(name, version))
        return loaded[0]

    try:
        result = validate(
            model_version,
            policy.checks,
            holdout,
            load_model=load_model,
            read_holdout=read_holdout,
            lineage=registry.lineage,
        )
    finally:
        for model in loaded:
            model.close()

    validated_at = now_iso(deps)
    version_url = registry.version_url(name, version)
    links = [("this version", version_url)]
    if model_version.run_id:
        links.append(("source run", registry.run_url(model_version.run_id)))
    if result.evaluation is not None:
        links.append(("evaluation run", result.evaluation.run_url))
    report = validation_markdown(
        result,
        validated_at=validated_at,
        policy_source=deps.loaded_policy().source,
        event_id=event.id,
        links=links,
    )
    registry.write_report(name, version, SECTION, report)
    # The verdict tag goes last: whoever waits for it finds the report and the other tags.
    registry.set_tags(
        name,
        version,
        {
            "mlops.validation.failed": ",".join(result.failed),
            "mlops.validated_at": validated_at,
            "mlops.validation.event": event.id,
            "mlops.validation": result.verdict,
        },
    )
    deps.notifier.notify(
        Notification(
            title=f"{name} v{version}: validation {result.verdict}",
            text=f"{len(result.checks)} checks on {result.data}",
            verdict=result.verdict,
            facts=[(c.name, c.status) for c in result.checks],
            problems=[f"{c.name}: {c.reason}" for c in result.checks if c.status == "failed"],
            link_url=version_url,
            link_label="Open the version",
        )
    )
    outcome = Outcome(
        result=result.verdict,
        summary=f"validation {result.verdict}"
        + (f": {', '.join(result.failed)}" if result.failed else ""),
        data={
            "checks": {c.name: c.status for c in result.checks},
            "check_seconds": {c.name: round(c.seconds, 3) for c in result.checks},
            "seconds": round(result.seconds, 2),
        },
    )
    if result.verdict == "passed" and policy.promotion.after_validation == "request":
        target = (
            policy.aliases.champion
            if event.registry == "mlflow"
            else (policy.promotion.target_stage)
        )
        outcome.data["promotion"] = registry.request_promotion(
            name,
            version,
            alias=policy.aliases.challenger,
            stage=policy.promotion.target_stage,
            comment=f"mlops-hooks: validation passed ({event.id})",
        )
        outcome.emit.append(
            events.promotion_requested(
                Source.HANDLER, name, version, target, registry=event.registry
            )
        )
    return outcome
