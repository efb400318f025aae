"""data_landed: new data in a watched prefix -> data contract -> the train job.

Every model whose policy watches the object's bucket and prefix is considered; data that breaks
a model's contract is refused for that model with the exact violations (notified, in the
outcome) and nothing is trained. Otherwise ``train`` is launched with the object as its data,
the model's tables, and the event's id; the run's idempotency token comes from the event's key,
so a retried or replayed event never starts a second run.
"""

from __future__ import annotations

from typing import Any

from mlops_hooks.handlers.common import train_params
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.domain.events import Event, Source
from mlops_hooks.shared.ports.deps import Deps
from mlops_hooks.shared.ports.jobs import run_token
from mlops_hooks.shared.ports.notifier import Notification
from mlops_hooks.shared.ports.outcome import Outcome


def handle(event: Event, deps: Deps) -> Outcome:
    from mlops_hooks.shared.domain.contract import violations

    if not (event.bucket and event.object_key):
        raise PermanentError("data_landed event without bucket and object key")
    uri = f"s3://{event.bucket}/{event.object_key}"
    policy_in_force = deps.loaded_policy()
    if policy_in_force.label_watchers(event.bucket, event.object_key):
        # outcomes, not training data: the labels_landed handler joins them with predictions
        child = events.labels_landed(
            event.bucket,
            event.object_key,
            event.id,  # one labels fact per landed object (its sequencer is in this key)
            source=Source.HANDLER,
            occurred_at=event.occurred_at,
        )
        return Outcome(result="labels", summary=f"{uri} holds labels", emit=[child])
    watchers = policy_in_force.watchers(event.bucket, event.object_key)
    if not watchers:
        return Outcome(result="skipped", summary=f"no model's data.watch covers {uri}")
    frame = deps.need("tables").read(uri)  # a TableError is permanent: the event goes dead
    jobs = deps.need("jobs")
    launched: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for model, policy in watchers:
        problems = violations(frame, policy.data.contract)
        if problems:
            refused.append({"model": model, "violations": problems})
            deps.notifier.notify(
                Notification(
                    title=f"{model}: landed data refused, not trained on",
                    text=f"{uri} breaks the data contract ({len(problems)} violations)",
                    verdict="failed",
                    facts=[("rows", str(len(frame))), ("columns", str(len(frame.columns)))],
                    problems=problems,
                )
            )
            continue
        params = train_params(deps, event, model, policy, data=uri, reason="data_landed")
        run = jobs.launch(
            "train",
            policy.jobs.train,
            params,
            token=run_token(f"{event.key}\n{model}", "train"),
            event_id=event.id,
        )
        launched.append(
            {"model": model, "run_id": run.run_id, "backend": run.backend, "url": run.url}
        )
    said = [f"train {r['model']}: run {r['run_id']}" for r in launched]
    said += [f"{r['model']}: refused ({'; '.join(r['violations'])})" for r in refused]
    return Outcome(
        result="launched" if launched else "refused",
        summary="; ".join(said),
        data={"uri": uri, "rows": len(frame), "runs": launched, "refused": refused},
    )
