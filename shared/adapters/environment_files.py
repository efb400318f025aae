"""Files built once per Python environment (``make spark-classes``, ``make mlflow-store``):
they describe what is installed there, so they live there too, under
``<sys.prefix>/share/mlops-hooks``, and go when the environment goes."""

from __future__ import annotations

import sys
from pathlib import Path


def environment_file(name: str) -> Path:
    """Where this environment keeps the file ``name`` (read at each call: tests move it)."""
    return Path(sys.prefix) / "share" / "mlops-hooks" / name
