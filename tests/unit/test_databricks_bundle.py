"""The Databricks asset bundle points at real entry points with real parameter names."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = yaml.safe_load((ROOT / "infra" / "databricks" / "databricks.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_targets_and_the_wheel() -> None:
    assert set(BUNDLE["targets"]) == {"dev", "staging", "prod"}
    assert BUNDLE["targets"]["dev"]["mode"] == "development"
    assert BUNDLE["targets"]["prod"]["mode"] == "production"
    [artifact] = BUNDLE["artifacts"].values()
    assert artifact["type"] == "whl" and "wheel" in artifact["build"]
    assert (ROOT / "infra" / "databricks" / artifact["path"] / "pyproject.toml").exists()


def test_every_job_runs_an_existing_entry_point_with_its_own_parameter_names() -> None:
    entry_points = PYPROJECT["project"]["entry-points"]["packages"]
    package = PYPROJECT["project"]["name"].replace("-", "_")
    jobs = BUNDLE["resources"]["jobs"]
    assert set(jobs) == {"train", "batch_inference", "drift_check"}
    for key, job in jobs.items():
        declared = {p["name"] for p in job["parameters"]}
        [task] = job["tasks"]
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == package
        target = entry_points[wheel_task["entry_point"]]
        module_name, function = target.split(":")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, function)), target
        parser = module.build_parser()
        options = {o for action in parser._actions for o in action.option_strings}
        required = {a.option_strings[0] for a in parser._actions if a.required}
        named = wheel_task["named_parameters"]
        for option, value in named.items():
            assert f"--{option}" in options, f"{key}: {module_name} has no --{option}"
            [reference] = re.findall(r"\{\{job\.parameters\.(\w+)\}\}", value)
            assert reference in declared, f"{key}: {reference} is not a job parameter"
            assert reference.replace("_", "-") == option  # what LocalJobs passes, too
        assert required <= {f"--{o}" for o in named}, f"{key}: a required option is not passed"
        used = {re.findall(r"job\.parameters\.(\w+)", v)[0] for v in named.values()}
        assert declared == used, f"{key}: declared but unused parameters {declared - used}"
        assert task["environment_key"] in {e["environment_key"] for e in job["environments"]}
