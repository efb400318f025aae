"""promotion_requested: champion vs challenger on the holdout, then promote or reject.

``auto`` mode carries the decision out at once. ``manual`` mode writes the report and asks
the policy's reviewers (a Slack message with the comparison and Approve / Reject buttons); a
reviewer's click comes back as an ``approval`` event (handlers/approval.py). A challenger that
failed validation is rejected in either mode: there is nothing a reviewer could approve.

With a ``shadow`` or ``split`` deployment the holdout is a gate, not the verdict: a challenger
that would be promoted on the holdout stays the challenger (``live_trial``), scored beside
the champion until enough labelled live rows ask again with evidence ``live``
(handlers/labels_landed.py); the live comparison then decides, auto or manual as above.
Re-running is idempotent: the report section / comment is rewritten, and promoting or
rejecting twice changes nothing the second time.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlops_hooks.handlers.common import model_version_of, now_iso
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.errors import PermanentError, RetryableError, VersionNotFound
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.notifier import ApprovalRequest, Notification
from mlops_hooks.shared.ports.outcome import Outcome
from mlops_hooks.shared.ports.registry import ModelVersion, Registry

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.comparison import Decision
    from mlops_hooks.shared.domain.policy import ModelPolicy
    from mlops_hooks.shared.domain.scoring import Scored

SECTION = "promotion"
LIVE_SECTION = "promotion-live"  # the comparison on live data: its own report section
AWAITING_APPROVAL = "awaiting_approval"
LIVE_TRIAL = "live_trial"  # passed the holdout; the live comparison decides


class AwaitingValidation(RetryableError):
    """The challenger has no verdict yet: retried (validation may still be running)."""


def target_stage(event: Event, policy: ModelPolicy) -> str:
    """The workspace registry approves the stage that was requested; elsewhere the policy's."""
    if event.source == "databricks" and event.target:
        return event.target
    return policy.promotion.target_stage


def asks_reviewers(policy: ModelPolicy, verdict: str) -> bool:
    """Pure: manual mode asks the reviewers, unless validation failed (nothing to approve)."""
    return policy.promotion.mode == "manual" and verdict == "passed"


def on_live_trial(decision: Decision, policy: ModelPolicy, *, live: bool, champion: Any) -> bool:
    """Pure: a holdout win under a shadow or split deployment waits for the live evidence (a
    first version, with no champion to be scored beside, is promoted as today)."""
    return (
        decision.promote
        and not live
        and champion is not None
        and policy.deployment.mode != "single"
    )


def planned_action(
    decision: Decision, policy: ModelPolicy, *, ask: bool, trial: bool = False
) -> str:
    """Pure: what the report says will happen."""
    if trial:
        deployment = policy.deployment
        return (
            f"kept as the challenger: scored in {deployment.mode} beside the champion until "
            f"{deployment.evidence_rows:,} labelled live rows decide"
        )
    if ask:
        return "awaiting a reviewer's approval (manual mode)"
    return f"{decision.verdict} ({policy.promotion.mode} mode)"


def handle(event: Event, deps: Deps) -> Outcome:
    # --- load ---------------------------------------------------------------------------
    name, version, policy, registry = model_version_of(event, deps)
    try:
        challenger_mv = registry.wait_ready(name, version, timeout=deps.settings.ready_wait_seconds)
    except VersionNotFound as exc:
        return Outcome(result="skipped", summary=str(exc))
    verdict = challenger_mv.tags.get(tags.VALIDATION)
    if verdict is None:
        raise AwaitingValidation(f"{name} v{version} has no validation verdict yet")
    stage = target_stage(event, policy)
    champion_version = registry.champion_version(name, alias=policy.aliases.champion, stage=stage)
    if champion_version == str(version):
        return Outcome(result="skipped", summary=f"v{version} is already the champion")

    # --- decide (the comparison itself is pure: shared/domain/comparison.py) ---------------
    live = event.payload.get("evidence") == "live" and champion_version is not None
    if live:
        decision, scored, holdout = decide_live(
            deps, policy, name, version, str(champion_version), validated=verdict == "passed"
        )
    else:
        decision, scored = decide(
            registry,
            policy,
            name,
            version,
            validated=verdict == "passed",
            champion_version=champion_version,
            read=None if champion_version is None else _reader(deps, policy),
            challenger=challenger_mv,
        )
        holdout = f"holdout `{policy.holdout.uri}`" if policy.holdout.uri else "no holdout"
    trial = on_live_trial(decision, policy, live=live, champion=champion_version)
    ask = asks_reviewers(policy, verdict) and not trial
    planned = planned_action(decision, policy, ask=ask, trial=trial)

    # --- apply --------------------------------------------------------------------------
    challenger_scored = scored.get("challenger")
    image_url = None
    if challenger_scored is not None and challenger_mv.run_id:
        image = deps.renderer.comparison_image(
            scored.get("champion"),
            challenger_scored,
            labels=(f"champion v{champion_version}", f"challenger v{version}"),
            name=f"champion-vs-v{version}.png",
        )
        image_url = registry.log_artifact(challenger_mv.run_id, image, "mlops-hooks")
    report = deps.renderer.comparison_report(
        decision,
        model=name,
        decided_at=now_iso(deps),
        holdout=holdout,
        action=planned,
        event_id=event.id,
        image_url=image_url,
        links=[("this version", registry.version_url(name, version))],
    )
    # The report first: whoever sees the alias move (or the stage change) finds it there.
    registry.write_report(name, version, LIVE_SECTION if live else SECTION, report)
    message = Notification(
        title=f"{name} v{version}: {decision.verdict}" + (" (awaiting approval)" if ask else ""),
        text="; ".join(decision.reasons),
        verdict="passed" if decision.promote else "failed",
        facts=_facts(decision),
        link_url=registry.version_url(name, version),
        link_label="Open the version",
    )
    posted = None
    if ask:
        action = planned
        posted = deps.notifier.request_approval(
            ApprovalRequest(
                message=replace(message, title=f"Approve promotion? {name} v{version}"),
                request_id=event.id,
                table=deps.renderer.comparison_table(decision),
                reviewers=policy.promotion.reviewers,
                cli_reviewers=policy.promotion.cli_reviewers,
                command_args=shlex.join([name, str(version)]),
            )
        )
    elif trial:
        action = planned
        deps.notifier.notify(replace(message, title=f"{name} v{version}: {LIVE_TRIAL}"))
    else:
        action = carry_out(
            registry, policy, name, version, decision.promote, stage=stage, comment=report
        )
        deps.notifier.notify(message)
    return Outcome(
        result=AWAITING_APPROVAL if ask else LIVE_TRIAL if trial else decision.verdict,
        summary=f"{decision.verdict}: {action}",
        data={
            "champion": champion_version,
            "recommendation": decision.verdict,
            "reasons": decision.reasons,
            "delta": None if decision.primary is None else decision.primary.delta,
            "interval": None
            if decision.primary is None
            else [decision.primary.low, decision.primary.high],
            # where the request was posted, for a decision taken elsewhere to update it
            **({"posted": posted} if posted else {}),
        },
    )


def _facts(decision: Any) -> list[tuple[str, str]]:
    if decision.primary is None:
        return []
    d = decision.primary
    return [
        (d.metric, f"{d.champion:.4f} → {d.challenger:.4f}"),
        ("delta", f"{d.delta:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"),
    ]


def _reader(deps: Deps, policy: ModelPolicy) -> Callable[[], Any]:
    holdout = policy.holdout
    if not holdout.uri:
        raise PermanentError("comparing with a champion needs holdout.uri in the policy")
    tables, uri = deps.need("tables"), holdout.uri
    return lambda: tables.read(uri, holdout.format, sample_rows=holdout.sample_rows)


def decide_live(
    deps: Deps,
    policy: ModelPolicy,
    name: str,
    version: str,
    champion_version: str,
    *,
    validated: bool,
) -> tuple[Decision, dict[str, Scored], str]:
    """The challenger against the champion on labelled live rows: paired on the rows both
    scored (shadow), unpaired on each arm's own rows (split); the evidence, described."""
    from mlops_hooks.handlers.common import live_join
    from mlops_hooks.handlers.labels_landed import positive_of
    from mlops_hooks.shared.domain.comparison import compare
    from mlops_hooks.shared.domain.live import live_evidence

    joined = live_join(deps, name, policy).joined
    spec = policy.data.labels
    assert spec is not None  # live_join checked it
    evidence = live_evidence(
        joined,
        id_column=spec.id_column,
        champion=champion_version,
        challenger=str(version),
        positive=positive_of(policy, joined["label"]),
        paired=policy.deployment.mode != "split",
    )
    if evidence is None:
        raise PermanentError(f"no labelled live rows of both v{champion_version} and v{version}")
    decision = compare(
        evidence.champion,
        evidence.challenger,
        policy.comparison,
        challenger_validated=validated,
        champion_version=champion_version,
        challenger_version=str(version),
        paired=evidence.paired,
    )
    scored = {"champion": evidence.champion, "challenger": evidence.challenger}
    return decision, scored, evidence.describe()


def decide(
    registry: Registry,
    policy: ModelPolicy,
    name: str,
    version: str,
    *,
    validated: bool,
    champion_version: str | None,
    read: Callable[[], Any] | None,
    challenger: ModelVersion | None = None,
) -> tuple[Decision, dict[str, Scored]]:
    """Score both versions on the holdout (only if there is a champion) and decide.
    ``challenger``: the version as just read (its model loads without reading it again)."""
    from mlops_hooks.shared.domain.comparison import compare
    from mlops_hooks.shared.domain.scoring import score

    scored: dict[str, Scored] = {}
    if champion_version is not None and read is not None:
        frame = read()
        for role, which, known in (
            ("challenger", version, challenger),
            ("champion", champion_version, None),
        ):
            model = registry.load_model(name, which, known=known)
            try:
                scored[role] = score(model, frame, policy.holdout)
            finally:
                model.close()
    decision = compare(
        scored.get("champion"),
        scored.get("challenger"),
        policy.comparison,
        challenger_validated=validated,
        champion_version=champion_version,
        challenger_version=str(version),
    )
    return decision, scored


def carry_out(
    registry: Registry,
    policy: ModelPolicy,
    name: str,
    version: str,
    promote: bool,
    *,
    stage: str,
    comment: str,
) -> str:
    """Promote or reject, the registry's way; idempotent. Returns what was done."""
    if promote:
        return registry.promote(
            name,
            version,
            alias=policy.aliases.champion,
            previous_alias=policy.aliases.previous,
            stage=stage,
            comment=comment,
        )
    return registry.reject(
        name, version, stage=stage, comment=comment, alias=policy.aliases.challenger
    )
