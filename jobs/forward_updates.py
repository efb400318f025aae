"""forward_updates: a Databricks model update trigger's updates into the ledger, for teams that
want Databricks-side push on Unity Catalog beside (or instead of) the registry sweep.

    python -m mlops_hooks.jobs.forward_updates --updates '[{"full_name": "main.mlops.churn",
        "version": 3}]' [--ledger-url dynamodb://mlops-hooks-prod-ledger]

The bundle's ``forward_model_updates`` jobs run it when a version is ready or the challenger
alias is set (``{{job.trigger.model.updates}}``). Each update is recorded with the key the
sweep gives the same change, so a version the trigger forwards and the sweep finds is one
event; with ``MLOPS_HOOKS_QUEUE_URL`` set the worker is woken at once, else the next reconcile
tick wakes it. The ledger is reached with the settings' credentials (on Databricks, the
cluster's instance profile); nothing runs here but the recording.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from mlops_hooks.jobs.cli import JobError, parser, run


def build_parser() -> argparse.ArgumentParser:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--updates", required=True, help="the trigger's updates: {{job.trigger.model.updates}}"
    )
    p.add_argument("--ledger-url", default="", help="default: MLOPS_HOOKS_LEDGER_URL")
    p.add_argument("--queue-url", default="", help="the worker's wake-up queue (SQS)")
    p.add_argument(
        "--aws-region", default="", help="the ledger's region (a Databricks cluster has none)"
    )
    return p


def forward_updates(args: argparse.Namespace) -> dict[str, Any]:
    from mlops_hooks.shared.bootstrap import bootstrap, load_settings
    from mlops_hooks.shared.domain.errors import ConfigError
    from mlops_hooks.shared.domain.events import Source
    from mlops_hooks.shared.domain.sweep import SweepRules, UpdatesError, trigger_events

    if args.aws_region:
        os.environ["AWS_DEFAULT_REGION"] = args.aws_region  # boto3's region, for the ledger
    given = {"ledger_url": args.ledger_url, "queue_url": args.queue_url}
    try:
        settings = load_settings(**{k: v for k, v in given.items() if v})
    except ConfigError as exc:
        raise JobError(str(exc)) from None
    rules = SweepRules(
        registry="databricks",
        workspace=None,
        challenger_alias=settings.challenger_alias,
        champion_alias=settings.champion_alias,
        promote_tag=settings.promote_tag,
        source=Source.MODEL_TRIGGER,
    )
    try:
        found = trigger_events(args.updates, rules)
    except UpdatesError as exc:
        raise JobError(str(exc)) from None
    dispatcher = bootstrap(settings, handlers={})  # records and wakes; runs nothing here
    try:
        recorded = dispatcher.submit_many(found)
    finally:
        dispatcher.ledger.close()
    return {
        "updates": len(found),
        "recorded": [r.record.id for r in recorded],
        "new": sum(r.created for r in recorded),
    }


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    run(forward_updates, arguments(argv))


if __name__ == "__main__":
    main()
