"""A job entry point for LocalJobs tests: ``--outcome ok`` prints a result line, else fails."""

from __future__ import annotations

import argparse
import time

from mlops_hooks.jobs.cli import JobError, parser, run


def main() -> None:
    p = parser("dummy job")
    p.add_argument("--outcome", default="ok")
    p.add_argument("--rows", default="3")
    p.add_argument("--sleep", default="0", help="seconds of work first")

    def work(args: argparse.Namespace) -> dict:
        time.sleep(float(args.sleep))
        if args.outcome != "ok":
            raise JobError(f"asked to fail ({args.outcome})")
        return {"rows": int(args.rows), "event": args.event_id}

    run(work, p.parse_args())


if __name__ == "__main__":
    main()
