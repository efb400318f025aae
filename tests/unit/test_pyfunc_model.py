"""`prime_loading`: what MLflow's first ``load_model`` in a process maps before it loads
(every installed distribution to its modules, for the requirements check) is built ahead, by
`serve`'s warm-up, so the first verdict does not wait for it. Run in a new interpreter: the
map is MLflow's module state, and this one may have built it already."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from mlflow.utils import requirements_utils as mlflow_requirements
from mlops_hooks.shared.adapters.pyfunc_model import prime_loading
before = mlflow_requirements._MODULES_TO_PACKAGES
prime_loading()
after = mlflow_requirements._MODULES_TO_PACKAGES
print(before is None, "scikit-learn" in (after or {}).get("sklearn", []))
"""


def test_priming_builds_mlflows_map_of_installed_packages_ahead() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
