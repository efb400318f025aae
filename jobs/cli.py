"""What every job shares: its command line (``--name value``, the same as the Databricks
task's named parameters), one JSON line of results on stdout, and clean failures."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from mlops_hooks.shared.domain.errors import PermanentError
from mlops_hooks.shared.ports.jobs import RESULT_PREFIX


class JobError(PermanentError):
    """A job cannot do its work with these inputs; one readable line, exit code 2."""


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--tracking-uri", default=None, help="MLflow (default: MLFLOW_TRACKING_URI)"
    )
    parser.add_argument("--event-id", default="", help="the event that launched this run")
    parser.add_argument("--reason", default="manual", help="why: data_landed, drift, schedule, ...")
    return parser


def run(main: Callable[[argparse.Namespace], dict[str, Any]], args: argparse.Namespace) -> None:
    """Run a job: its result as one JSON line (LocalJobs reads it), errors as one line."""
    try:
        result = main(args)
    except JobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


def parse_tags(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the form a Databricks job parameter can carry) -> dict."""
    tags = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise JobError(f"tag {part!r}: expected key=value")
        tags[key.strip()] = value.strip()
    return tags
