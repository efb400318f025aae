"""model_registered: wait until the version is READY, validate it, and say so everywhere.

Load (the version, its model and holdout, lazily) → decide (``plan``: pure, from the checks'
result and the policy) → apply: report (managed description section / registry comment) and
tags at once, the verdict tag after them → notification → if it passed and the policy asks, a
promotion request, which also comes back as a ``promotion_requested`` event through the ledger
(the same key as the registry's own webhook, so it runs once). Re-running (replay, a second
delivery) rewrites the same report and tags: it is idempotent.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_hooks.handlers.common import model_version_of, now_iso
from mlops_hooks.shared.domain import events, tags
from mlops_hooks.shared.domain.errors import VersionNotFound
from mlops_hooks.shared.domain.events import Event, Source, promotes_by_alias
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.notifier import Notification
from mlops_hooks.shared.ports.outcome import Outcome

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.policy import ModelPolicy
    from mlops_hooks.shared.domain.validation import Validation
    from mlops_hooks.shared.ports.registry import Evaluation, Lineage, ModelVersion, Registry

SECTION = "validation"


@dataclass(frozen=True)
class Plan:
    """What validation leads to: the tags to write (the verdict last), the message, and the
    promotion target to request (None: no request)."""

    tags: dict[str, str]
    outcome: Outcome
    request_target: str | None


def plan(
    result: Validation, policy: ModelPolicy, *, registry: str, validated_at: str, event_id: str
) -> Plan:
    """Pure: the tags, the outcome and whether to ask for promotion, from the checks' result."""
    failed = ",".join(result.failed)
    outcome = Outcome(
        result=result.verdict,
        summary=f"validation {result.verdict}"
        + (
            f": {result.config_error} (a configuration problem, not the model's: fix it and "
            "replay the event)"
            if result.config_error
            else f": {', '.join(result.failed)}"
            if failed
            else ""
        ),
        data={
            "checks": {c.name: c.status for c in result.checks},
            "check_seconds": {c.name: round(c.seconds, 3) for c in result.checks},
            "seconds": round(result.seconds, 2),
        },
    )
    target = None
    if result.verdict == "passed" and policy.promotion.after_validation == "request":
        by_alias = promotes_by_alias(registry, result.model)
        target = policy.aliases.champion if by_alias else policy.promotion.target_stage
    return Plan(
        # The verdict tag goes last: whoever waits for it finds the report and the other tags.
        tags={
            tags.VALIDATION_FAILED: failed,
            tags.VALIDATION_ERROR: result.config_error or "",
            tags.VALIDATED_AT: validated_at,
            tags.VALIDATION_EVENT: event_id,
            tags.VALIDATION: result.verdict,
        },
        outcome=outcome,
        request_target=target,
    )


def message(name: str, version: str, result: Validation, link: str | None) -> Notification:
    return Notification(
        title=f"{name} v{version}: validation {result.verdict}",
        text=f"{len(result.checks)} checks on {result.data}",
        verdict=result.verdict,
        facts=[(c.name, c.status) for c in result.checks],
        problems=[result.config_error]
        if result.config_error
        else [f"{c.name}: {c.reason}" for c in result.checks if c.status == "failed"],
        link_url=link,
        link_label="Open the version",
    )


def handle(event: Event, deps: Deps) -> Outcome:
    from mlops_hooks.shared.domain.validation import validate

    # --- load ---------------------------------------------------------------------------
    name, version, policy, registry = model_version_of(event, deps)
    # not READY within the wait: a RegistryError, retried later with backoff
    try:
        model_version = registry.wait_ready(name, version, timeout=deps.settings.ready_wait_seconds)
    except VersionNotFound as exc:  # a test delivery, a version deleted since: nothing to judge
        return Outcome(result="skipped", summary=str(exc))
    tables, holdout = deps.tables, policy.holdout
    read_holdout = None
    if tables is not None and holdout.uri:
        uri = holdout.uri

        def read_holdout():  # read only if a check needs it
            return tables.read(uri, holdout.format, sample_rows=holdout.sample_rows)

    loaded = []

    def load_model():  # the version just read names its source run: no second read
        loaded.append(registry.load_model(name, version, known=model_version))
        return loaded[0]

    runs: dict[str, Lineage] = {}

    def lineage(run_id: str) -> Lineage:  # kept: the report links the run it found
        runs[run_id] = found = registry.lineage(run_id)
        return found

    try:
        result = validate(
            model_version,
            policy.checks,
            holdout,
            load_model=load_model,
            read_holdout=read_holdout,
            lineage=lineage,
        )
        outcome, write_report = _apply(
            event, deps, policy, registry, model_version, result, runs.get(model_version.run_id)
        )
        if result.evaluate_later is not None:  # after the verdict: a report update, no verdict
            _evaluate_afterwards(result, result.evaluate_later, outcome)
            write_report()
    finally:
        for model in loaded:
            model.close()
    return outcome


def _write_verdict_last(
    registry: Registry,
    name: str,
    version: str,
    tags_in_order: dict[str, str],
    write_report: Callable[[], None],
) -> None:
    """The report and every tag but the last at once, then the last (the verdict): each is a
    registry round trip (six in a row were ~0.1 s of a 0.8 s verdict on a local MLflow; a
    Databricks call is several times one), and whoever waits for the verdict still finds the
    others. A failed write raises before the verdict is written: a retry writes them all."""
    *before, last = tags_in_order.items()
    with ThreadPoolExecutor(max_workers=1 + len(before), thread_name_prefix="apply") as pool:
        writes = [pool.submit(write_report)]
        writes += [pool.submit(registry.set_tags, name, version, dict([tag])) for tag in before]
        for write in writes:
            write.result()
    registry.set_tags(name, version, dict([last]))


def _evaluate_afterwards(
    result: Validation, evaluate: Callable[[], Evaluation | None], outcome: Outcome
) -> None:
    """MLflow's evaluation run, into the result and the outcome; its failure costs only the run
    (the verdict and our own metrics stand), and is said in the outcome."""
    started = time.perf_counter()
    try:
        result.evaluation = evaluate()
    except Exception as exc:
        outcome.data["evaluation_error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        result.evaluate_later = None
    outcome.data["evaluation_seconds"] = round(time.perf_counter() - started, 2)
    if result.evaluation is not None:
        outcome.data["evaluation_run"] = result.evaluation.run_id


def _apply(
    event: Event,
    deps: Deps,
    policy: ModelPolicy,
    registry: Registry,
    model_version: ModelVersion,
    result: Validation,
    source: Lineage | None,
) -> tuple[Outcome, Callable[[], None]]:
    """Decide, then write the report, the tags (verdict last), the message and the request.
    ``source``: the source run as the lineage check found it (its link: no lookup of its own).
    Returns the outcome and how to write the report again (once the evaluation run is in)."""
    name, version = result.model, result.version
    # --- decide -------------------------------------------------------------------------
    validated_at = now_iso(deps)
    decided = plan(
        result, policy, registry=event.registry, validated_at=validated_at, event_id=event.id
    )

    # --- apply --------------------------------------------------------------------------
    version_url = registry.version_url(name, version)
    run_id = model_version.run_id

    @functools.cache
    def source_run() -> list[tuple[str, str | None]]:
        """The lineage check's link, or else looked up by the first report write, beside the
        tag writes, not before them (a registry round trip off the verdict's path); the report
        written again reuses it."""
        if not run_id:
            return []
        found = source.run_url if source is not None and source.run_exists else None
        return [("source run", found or registry.run_url(run_id))]

    def write_report() -> None:
        evaluation = result.evaluation
        report = deps.renderer.validation_report(
            result,
            validated_at=validated_at,
            policy_source=deps.loaded_policy().source,
            event_id=event.id,
            links=[
                ("this version", version_url),
                *source_run(),
                ("evaluation run", evaluation.run_url if evaluation else None),
            ],
        )
        registry.write_report(name, version, SECTION, report)

    _write_verdict_last(registry, name, version, decided.tags, write_report)
    deps.notifier.notify(message(name, version, result, version_url))
    outcome = decided.outcome
    if decided.request_target is not None:
        outcome.data["promotion"] = registry.request_promotion(
            name,
            version,
            alias=policy.aliases.challenger,
            stage=policy.promotion.target_stage,
            comment=f"mlops-hooks: validation passed ({event.id})",
        )
        outcome.emit.append(
            events.promotion_requested(
                Source.HANDLER,
                name,
                version,
                decided.request_target,
                registry=event.registry,
                workspace=event.workspace,  # the same key as the alias webhook's
            )
        )
    return outcome, write_report
