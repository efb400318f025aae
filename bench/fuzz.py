"""Fuzz: schemathesis against `serve`'s own /openapi.json: no 5xx, and the document exact.

Two servers, each fuzzed with every schemathesis check (server errors, status codes, content
types, response schemas, schema-valid bodies accepted, schema-violating ones refused, required
headers, auth):

- `serve` with every secret and an API token: the requests carry no valid signature, so what
  is fuzzed is what runs before the signature (headers, their lengths, timestamps) and the
  read API;
- `serve --insecure-no-signature`: the bodies reach the MLflow, Databricks and Slack parsers.

schemathesis runs in its own virtualenv (.venv-fuzz, created on first use) so its pins stay
out of the project's. One check is off on one route: positive_data_acceptance on
/slack/actions, whose body is a form field holding JSON; schemathesis does not generate the JSON
inside it (it sends any text, which is rightly a 400).

Target (issue 14): 0 server errors and 0 failed checks in both.

    python bench/fuzz.py [--max-examples 200] [--seed 14]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from tests.support.processes import start_serve_process  # noqa: E402

FUZZ_VENV = ROOT / ".venv-fuzz"
SCHEMATHESIS = "schemathesis>=4.32,<5"
TOKEN = "fuzz-token"
CONFIG = """
[[operations]]
include-path = "/slack/actions"
checks.positive_data_acceptance.enabled = false
"""


def schemathesis() -> Path:
    st = FUZZ_VENV / "bin" / "st"
    if not st.exists():
        print(f"creating {FUZZ_VENV} with {SCHEMATHESIS} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(FUZZ_VENV)], check=True)
        pip = [str(FUZZ_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, SCHEMATHESIS], check=True)
    return st


def fuzz(
    st: Path, tmp: Path, name: str, env: dict[str, str], args: argparse.Namespace, *options: str
) -> dict:
    serve = start_serve_process(f"serve-{name}", tmp, env, 0, *options)
    config = tmp / "schemathesis.toml"
    config.write_text(CONFIG)
    reports = tmp / f"report-{name}"
    try:
        done = subprocess.run(
            [
                str(st), "--config-file", str(config), "run", f"{serve.url}/openapi.json",
                "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                "--generation-database", "none", "--no-color",
                "-H", f"Authorization: Bearer {TOKEN}",
                "--report", "junit", "--report-junit-path", str(reports / "junit.xml"),
            ],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    finally:
        serve.stop()
    suite = ET.parse(reports / "junit.xml").getroot()  # noqa: S314 - written by schemathesis here
    failures = [
        (case.get("name"), f.get("message") or "")
        for case in suite.iter("testcase")
        for f in case.findall("failure")
    ]
    text = "\n".join(f.text or "" for case in suite.iter("testcase") for f in case)
    generated = re.search(r"(\d+) generated", done.stdout)
    server_errors = "\n".join(serve.output().splitlines()[-2000:]).count("Traceback") + text.count(
        "ST101"
    )
    result = {
        "operations": sum(1 for _ in suite.iter("testcase")),
        "test_cases": int(generated.group(1)) if generated else None,
        "failed_operations": failures,
        "server_errors": server_errors,
        "exit_code": done.returncode,
    }
    print(f"{name}: {result['test_cases']} test cases over {result['operations']} operations, "
          f"{len(failures)} failing, {server_errors} server errors")  # fmt: skip
    if failures:
        print(done.stdout[-6000:])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=200, help="per operation")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    st = schemathesis()
    common = {
        "MLOPS_HOOKS_RECONCILE_CRON": "",
        "MLOPS_HOOKS_WORKERS": "1",
        "MLOPS_HOOKS_HANDLER_MODULES": "bench.soak_handlers:HANDLERS",  # no registry needed
        "PYTHONPATH": str(ROOT),
    }
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        common["SOAK_RUNS_LOG"] = str(tmp / "runs.log")
        signed = fuzz(
            st, tmp, "signed",
            {
                **common,
                "MLOPS_HOOKS_STATE_DIR": str(tmp / "signed"),
                "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "fuzz-mlflow",
                "MLOPS_HOOKS_DATABRICKS_WEBHOOK_SECRET": "fuzz-databricks",
                "SLACK_SIGNING_SECRET": "fuzz-slack",
                "MLOPS_HOOKS_API_TOKEN": TOKEN,
            },
            args,
        )  # fmt: skip
        unsigned = fuzz(
            st, tmp, "unsigned",
            {**common, "MLOPS_HOOKS_STATE_DIR": str(tmp / "unsigned"),
             "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": "unused"},
            args, "--insecure-no-signature",
        )  # fmt: skip
    targets = [
        Target(f"{name}: server errors", r["server_errors"], "count", "<=", 0)
        for name, r in (("signed", signed), ("unsigned", unsigned))
    ] + [
        Target(f"{name}: operations failing a check", len(r["failed_operations"]), "count", "<=", 0)
        for name, r in (("signed", signed), ("unsigned", unsigned))
    ]
    write("fuzz", targets, signed=signed, unsigned=unsigned, max_examples=args.max_examples)
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    raise SystemExit(main())
