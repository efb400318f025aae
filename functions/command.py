"""The `mlops-hooks` console script: the command line when its extra is installed, else one
line saying how to get it (the Lambda artefacts ship without typer and rich)."""

from __future__ import annotations

import importlib.util
import sys

HINT = (
    "error: the mlops-hooks command needs its command-line extra: "
    "pip install 'mlops-hooks[cli]' (or [local] for serve and the demo)"
)


def main() -> None:
    if importlib.util.find_spec("typer") is None or importlib.util.find_spec("rich") is None:
        print(HINT, file=sys.stderr)
        raise SystemExit(2)
    from mlops_hooks.functions.cli import main as run

    run()
