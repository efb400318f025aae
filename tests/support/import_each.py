"""Import each module named on the command line on its own: in a fresh child of this process,
forked after the heavy third-party libraries are imported once, and before any mlops_hooks
module is. Prints the modules that failed (JSON), with each failure's last line on stderr.

Run by tests/unit/test_layers.py as ``python -c <this file's text> [--preload] module ...``
(``--preload``: those libraries first) from outside the checkout (the installed package only).
A fresh interpreter per module would import MLflow, pandas and Spark's Python side again for
each of ~100 modules (~25 s of CPU); what the test is about, an import order among our own
modules hiding a cycle, is the same in a forked child.
"""

import contextlib
import importlib
import json
import os
import sys

HEAVY = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy.stats",
    "sklearn.pipeline",
    "mlflow",
    "mlflow.pyfunc",
    "pyspark.sql",
    "deltalake",
    "boto3",
    "botocore.client",
    "databricks.sdk",
    "slack_sdk",
    "fastapi",
    "pydantic",
    "pydantic_settings",
    "typer",
    "rich.console",
    "jinja2",
    "httpx",
    "matplotlib",
    "aws_lambda_powertools",
)


def main(modules: list[str], *, preload: bool) -> int:
    for name in HEAVY if preload else ():
        # an extra that is not installed: the module that needs it will say so
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    assert not [m for m in sys.modules if m.startswith("mlops_hooks")], "preloaded our own"
    failed = []
    for module in modules:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                importlib.import_module(module)
            except BaseException as error:  # any failure is the finding
                print(f"{module}: {type(error).__name__}: {error}", file=sys.stderr)
                code = 1
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed.append(module)
    print(json.dumps(failed))
    return 0


if __name__ == "__main__":
    preload = sys.argv[1:2] == ["--preload"]
    sys.exit(main(sys.argv[1 + preload :], preload=preload))
