"""The Databricks asset bundle points at real entry points with real parameter names."""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import importlib
import inspect
import itertools
import json
import re
import textwrap
import tomllib
from pathlib import Path
from typing import Any

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
    # what the wheel pulls onto a Databricks runtime: the core only, never PyPI's pyspark
    core = [
        re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0] for d in PYPROJECT["project"]["dependencies"]
    ]
    assert core and not {"pyspark", "mlflow", "delta-spark"} & set(core), core


def test_the_bundle_is_deployable_as_it_stands() -> None:
    assert bundle_problems(BUNDLE) == []


def test_a_host_placeholder_a_deprecated_key_or_an_unknown_one_fails() -> None:
    placeholder = copy.deepcopy(BUNDLE)
    placeholder["targets"]["prod"]["workspace"]["host"] = "https://prod.cloud.databricks.com"
    assert bundle_problems(placeholder) == [
        "targets.prod.workspace.host is set: the host comes from DATABRICKS_HOST"
    ]
    deprecated = copy.deepcopy(BUNDLE)
    spec = deprecated["resources"]["jobs"]["train"]["environments"][0]["spec"]
    spec["client"] = "2"
    assert bundle_problems(deprecated) == ["jobs.train: deprecated .environments[0].spec.client"]
    unknown = copy.deepcopy(BUNDLE)
    unknown["resources"]["jobs"]["drift_check"]["max_concurent_runs"] = 1  # a typo
    [problem] = bundle_problems(unknown)
    assert problem.startswith("jobs.drift_check: Unexpected field 'max_concurent_runs'")
    # the CLI's schema: a misspelt key anywhere in the root, a target, its workspace or an
    # artifact; a deprecated one (a target's compute_id)
    typo = copy.deepcopy(BUNDLE)
    typo["targets"]["prod"]["workspace"]["roots_path"] = "/Workspace/x"
    [problem] = bundle_problems(typo)
    assert problem.startswith("targets.prod.workspace: Additional properties are not allowed")
    old_key = copy.deepcopy(BUNDLE)
    old_key["targets"]["dev"]["compute_id"] = "0123-abc"
    assert bundle_problems(old_key) == ["targets.dev.compute_id: deprecated"]
    not_a_flag = copy.deepcopy(BUNDLE)
    not_a_flag["artifacts"]["mlops_hooks_wheel"]["dynamic_version"] = "sometimes"
    problems = bundle_problems(not_a_flag)
    assert problems and problems[0].startswith("artifacts.mlops_hooks_wheel.dynamic_version:")
    shared = copy.deepcopy(BUNDLE)
    shared["targets"]["staging"]["workspace"]["root_path"] = "/Shared/.bundle/x"
    del shared["targets"]["staging"]["run_as"]
    assert bundle_problems(shared) == [
        "targets.staging: no run_as service principal",
        "targets.staging.workspace.root_path is under /Shared (writable by every user)",
    ]


def bundle_problems(bundle: dict[str, Any]) -> list[str]:
    """What would stop the bundle deploying as intended: each job read by databricks-bundles'
    models (unknown keys refused) with none of their [DEPRECATED] fields set; the host never in
    the file; staging and prod as a service principal under their own root path; a new wheel
    version per build."""
    from databricks.bundles.jobs import Job, JobRunAs

    problems = schema_problems(bundle)
    for name, job in bundle["resources"]["jobs"].items():
        try:
            parsed = Job.from_dict(job)
        except (ValueError, TypeError) as exc:
            problems.append(f"jobs.{name}: {exc}")
            continue
        problems += [f"jobs.{name}: deprecated {where}" for where in deprecated_in(parsed)]
        for env in job.get("environments", []):
            if "environment_version" not in env["spec"]:
                problems.append(f"jobs.{name}: no environment_version")
    places = {"": bundle, **{f"targets.{t}.": spec for t, spec in bundle["targets"].items()}}
    for where, place in places.items():
        if "host" in (place.get("workspace") or {}):
            problems.append(f"{where}workspace.host is set: the host comes from DATABRICKS_HOST")
    for target in ("staging", "prod"):
        spec = bundle["targets"][target]
        try:
            JobRunAs.from_dict(spec.get("run_as") or {})
        except (ValueError, TypeError) as exc:
            problems.append(f"targets.{target}.run_as: {exc}")
        if not (spec.get("run_as") or {}).get("service_principal_name"):
            problems.append(f"targets.{target}: no run_as service principal")
        root = (spec.get("workspace") or {}).get("root_path", "")
        if not root or root.startswith(("/Shared", "/Workspace/Shared")):
            problems.append(
                f"targets.{target}.workspace.root_path is under /Shared (writable by every user)"
            )
    for name, artifact in bundle["artifacts"].items():
        if artifact.get("dynamic_version") is not True:
            problems.append(f"artifacts.{name}: the same wheel version on every build")
    return problems


SCHEMA = json.loads(
    (ROOT / "tests" / "fixtures" / "databricks" / "bundle_schema_root.json").read_text()
)


def schema_problems(bundle: dict[str, Any]) -> list[str]:
    """The bundle's root, targets, workspace, artifacts and variables against the Databricks
    CLI's own JSON schema (the excerpt in tests/fixtures/databricks), and the keys it marks
    deprecated."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = []
    for error in validator.iter_errors(bundle):
        deepest = error  # a oneOf's errors: the one furthest into the bundle, not "not a string"
        while deepest.context:
            deepest = max(
                deepest.context, key=lambda e: (len(e.absolute_path), e.validator != "type")
            )
        where = ".".join(str(p) for p in deepest.absolute_path) or "the bundle"
        problems.append(f"{where}: {deepest.message}")
    problems += [f"{where}: deprecated" for where in _schema_deprecated(SCHEMA, bundle, "")]
    return problems


def _schema_deprecated(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    """The keys of ``value`` whose property schema says ``deprecated`` (through $ref, the
    object branch of a oneOf, and maps' additionalProperties)."""
    schema = _resolve(schema)
    if "oneOf" in schema:
        schema = _resolve(schema["oneOf"][0])
    if not isinstance(value, dict):
        return []
    found = []
    properties = schema.get("properties")
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if properties is not None and key in properties:
            child = properties[key]
            if child.get("deprecated"):
                found.append(where)
            found += _schema_deprecated(child, item, where)
        elif properties is None and isinstance(schema.get("additionalProperties"), dict):
            found += _schema_deprecated(schema["additionalProperties"], item, where)
    return found


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = SCHEMA
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def deprecated_in(obj: Any, path: str = "") -> list[str]:
    """The fields set in a parsed bundle model whose generated docstring says [DEPRECATED]."""
    if isinstance(obj, list):
        return [
            found for i, item in enumerate(obj) for found in deprecated_in(item, f"{path}[{i}]")
        ]
    if not dataclasses.is_dataclass(obj):
        return []
    marked = _deprecated_fields(type(obj))
    found = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in marked and value not in (None, [], {}):
            found.append(f"{path}.{f.name}")
        found += deprecated_in(value, f"{path}.{f.name}")
    return found


@functools.cache
def _deprecated_fields(cls: type) -> frozenset[str]:
    # the generated models document each field by a string right after it; no other metadata
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body  # type: ignore[attr-defined]
    return frozenset(
        node.target.id
        for node, doc in itertools.pairwise(body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and "[DEPRECATED]" in str(doc.value.value)
    )


def test_every_job_runs_an_existing_entry_point_with_its_own_parameter_names() -> None:
    entry_points = PYPROJECT["project"]["entry-points"]["packages"]
    package = PYPROJECT["project"]["name"].replace("-", "_")
    jobs = BUNDLE["resources"]["jobs"]
    assert set(jobs) == {
        "train",
        "batch_inference",
        "drift_check",
        "forward_model_versions",
        "forward_challenger_aliases",
    }
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
