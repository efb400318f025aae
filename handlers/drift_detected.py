"""drift_detected: retrain a drifted model, at most once per cooldown and never twice at once.

The event comes from the drift check (its details: which features drifted, with their bins) or
from any CloudWatch alarm on the alarm topic (no details). The ledger guard ``retrain:<model>``
is held by the event that launched the latest retraining: while that run is unfinished, or
until ``drift.cooldown_hours`` after it was launched, every other alarm is recorded and skipped
with the reason. After that the next alarm takes the guard over (first writer wins, so two
alarms at once still launch one run). The retraining is the ``train`` job with reason ``drift``
and the drifted features in the run's tags; Slack gets the per-feature table and a histogram
PNG of the worst features (logged to the champion's run).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mlops_hooks.handlers.common import train_params
from mlops_hooks.handlers.retraining import retraining_data, start_retraining
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.events import Event
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.jobs import run_token
from mlops_hooks.shared.ports.notifier import Notification
from mlops_hooks.shared.ports.outcome import Outcome


def handle(event: Event, deps: Deps) -> Outcome:
    from mlops_hooks.shared.domain.drift_check import details_of

    model, policy, skipped = start_retraining(event, deps)
    if skipped is not None:
        return skipped
    found = details_of(event.payload) or {}
    drifted: list[str] = found.get("drifted", [])
    data = retraining_data(event, deps, model, policy)
    params = train_params(deps, event, model, policy, data=data, reason="drift")
    params["tags"] = f"{tags.DRIFT_FEATURES}={'|'.join(drifted) or 'unknown'}"
    run = deps.need("jobs").launch(
        "train", policy.jobs.train, params, token=run_token(event.key, "train"), event_id=event.id
    )
    image = _histograms(deps, event, found, model)
    deps.notifier.notify(_message(model, event, found, run, image))
    return Outcome(
        result="launched",
        summary=f"retraining {model} on {data} (drift in {', '.join(drifted) or 'unknown'}): "
        f"run {run.run_id}",
        data={"run_id": run.run_id, "drifted": drifted, "histograms": image},
    )


def _histograms(deps: Deps, event: Event, found: dict[str, Any], model: str) -> str | None:
    """The worst features' histograms, logged to the champion's run; their URL."""
    features = found.get("features") or []
    version = found.get("model_version")
    if not features or not version:
        return None
    registry = deps.registry_for(event.registry, event.workspace)
    run_id = registry.get_version(model, str(version)).run_id
    if not run_id:
        return None
    stamp = datetime.fromtimestamp(deps.clock.now(), UTC).strftime("%Y%m%dT%H%M%S")
    image = deps.renderer.drift_image(features, name=f"drift-{stamp}.png")
    return registry.log_artifact(run_id, image, "mlops-hooks/drift")


def _message(
    model: str, event: Event, found: dict[str, Any], run: Any, image: str | None
) -> Notification:
    rows = [f for f in found.get("features", []) if f.get("status") in ("drift", "warn")]
    problems = [
        f"{f['feature']} ({f['kind']}): PSI {f['psi']:.3f} {f['status']}"
        + (f", KS {f['ks']:.3f}" if f.get("ks") is not None else "")
        + (f", JS {f['js_distance']:.3f}" if f.get("js_distance") is not None else "")
        for f in rows[:15]
    ]
    window = found.get("window")
    return Notification(
        title=f"{model}: drift detected, retraining",
        text=event.reason or "drift alarm",
        verdict="warning",
        facts=[
            ("champion", f"v{found['model_version']}" if found.get("model_version") else "-"),
            ("window", " to ".join(window) if window else "-"),
            ("retraining run", run.run_id),
        ],
        problems=problems,
        link_url=image or run.url,
        link_label="Histograms of the worst features" if image else "Open the run",
    )
