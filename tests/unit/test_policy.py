"""The policy file: schema, glob resolution, line-precise errors, and its CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_hooks.functions.cli import app
from mlops_hooks.shared.domain.policy import PolicyError, default_policy, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

TYPO = """\
version: 1
models:
  - name: churn
    holdout:
      uri: data/holdout.csv
      lable: Churn
    checks:
      signature: {}
      accuracyy: {}
"""


def test_without_a_file_the_builtin_default_applies_to_every_model() -> None:
    policy = default_policy().for_model("anything")
    assert policy.checks.names() == ["loads", "signature", "input_example", "predictions"]
    assert policy.promotion.mode == "manual"
    assert policy.aliases.champion == "champion" and policy.aliases.challenger == "challenger"
    assert policy.comparison.resamples == 1000 and policy.drift.psi_drift == 0.25


def test_first_matching_glob_wins_over_defaults_and_checks_replace_whole() -> None:
    policy = parse_policy("""
defaults:
  promotion: {reviewers: [U1]}
  comparison: {metric: f1}
models:
  - name: "churn-*"
    promotion: {mode: auto}
    checks: {loads: {}, metrics: {thresholds: {roc_auc: {min: 0.8}}}}
    holdout: {uri: data/holdout.csv, label: Churn}
  - name: "churn-eu"
    promotion: {mode: manual}
  - name: "*"
""")
    churn = policy.for_model("churn-eu")  # the first entry matches first
    assert churn.promotion.mode == "auto" and churn.promotion.reviewers == ["U1"]
    assert churn.comparison.metric == "f1"
    assert churn.checks.names() == ["loads", "metrics"]  # replaced, not merged
    assert churn.checks.metrics is not None
    assert churn.checks.metrics.thresholds["roc_auc"].min == 0.8
    other = policy.for_model("fraud")
    assert other.promotion.mode == "manual" and other.checks.names()[0] == "loads"


def test_every_error_is_reported_with_its_line() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(TYPO, "mlops.yml")
    assert err.value.errors == [
        "mlops.yml:6: models[0].holdout.lable: unknown key 'lable' (did you mean 'label'?)",
        "mlops.yml:9: models[0].checks.accuracyy: unknown key 'accuracyy'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  - name: x\n    checks: {metrics: {thresholds: {auc: {min: 1}}}}\n",
            "mlops.yml:3: models[0].checks.metrics.thresholds.auc",
        ),
        (
            "models:\n  - name: x\n    promotion: {mode: yolo}\n",
            "mlops.yml:3: models[0].promotion.mode: Input should be 'auto' or 'manual'",
        ),
        (
            "models:\n  - name: x\n    schedules:\n"
            "      - {name: n, cron: '0 2', task: drift_check}\n",
            "mlops.yml:4: models[0].schedules[0].cron: cron needs five fields",
        ),
        ("version: 2\n", "mlops.yml:1: version: Input should be 1"),
        ("models: [\n", "mlops.yml:2: invalid YAML"),
        ("- a\n- b\n", "mlops.yml:1: the policy must be a mapping"),
        (
            "models:\n  - name: x\n    drift: {psi_warn: 0.3, psi_drift: 0.2}\n",
            "mlops.yml:3: models[0].drift: psi_drift must be at least psi_warn",
        ),
        (
            "models:\n  - name: x\n    deployment: {mode: shadow}\n",
            "mlops.yml:2: models[0] (x): deployment.mode shadow needs data.labels",
        ),
    ],
)
def test_bad_values(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "mlops.yml")
    assert err.value.errors[0].startswith(expected), err.value.errors


def test_the_example_policy_is_valid() -> None:
    policy = load_policy(ROOT / "examples" / "mlops.yml")
    churn = policy.for_model("churn-v2")
    assert churn.promotion.mode == "auto" and churn.promotion.reviewers == ["U012AB3CD"]
    assert churn.holdout.label == "Churn" and len(churn.schedules) == 2
    assert policy.for_model("fraud").checks.names() == [
        "loads",
        "signature",
        "input_example",
        "predictions",
    ]


def test_policy_check_cli(tmp_path: Path) -> None:
    bad = tmp_path / "mlops.yml"
    bad.write_text(TYPO)
    result = runner.invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:6: models[0].holdout.lable: unknown key 'lable'" in result.output
    assert f"{bad}:9: models[0].checks.accuracyy" in result.output
    ok = runner.invoke(app, ["policy", "check", str(ROOT / "examples" / "mlops.yml")])
    assert ok.exit_code == 0 and "ok (churn*, *)" in ok.output
    missing = runner.invoke(app, ["policy", "check", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 1 and "cannot read the policy file" in missing.output
    nobody = tmp_path / "nobody.yml"
    nobody.write_text("models:\n  - name: churn\n    promotion: {mode: manual}\n")
    warned = runner.invoke(app, ["policy", "check", str(nobody)])
    assert warned.exit_code == 0 and "ok (churn)" in warned.output
    assert (
        "model 'churn': promotion.mode is manual but promotion.reviewers and "
        "promotion.cli_reviewers are empty"
    ) in " ".join(warned.output.split())


def test_policy_show_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no mlops.yml here: the built-in default
    shown = runner.invoke(app, ["policy", "show", "churn"])
    assert shown.exit_code == 0 and "built-in default" in shown.output
    assert "mode: manual" in shown.output and "input_example: {}" in shown.output
    (tmp_path / "mlops.yml").write_text("models:\n  - name: churn\n    promotion: {mode: auto}\n")
    picked = runner.invoke(app, ["policy", "show", "churn"])
    assert "mlops.yml, entry 'churn'" in picked.output and "mode: auto" in picked.output


def test_serve_refuses_a_bad_policy_with_the_same_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "policy.yml"
    bad.write_text(TYPO)
    monkeypatch.setenv("MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("MLOPS_HOOKS_POLICY", str(bad))
    monkeypatch.setenv("MLOPS_HOOKS_STATE_DIR", str(tmp_path))
    result = runner.invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert f"{bad}:6: models[0].holdout.lable: unknown key 'lable'" in result.output


def test_data_checks_without_a_holdout_are_an_error_in_defaults_and_entries() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(
            "defaults:\n  checks: {slices: {columns: [Contract], min: 0.6}}\n"
            "models:\n  - name: churn\n    checks: {metrics: {}}\n",
            "p.yml",
        )
    assert err.value.errors == [
        "p.yml:1: defaults: checks slices need holdout.uri",
        "p.yml:4: models[0] (churn): checks metrics need holdout.uri",
    ]


def test_a_policy_factory_runs_once_whichever_threads_ask_first(tmp_path: Path) -> None:
    """serve's warm-up thread and its main thread ask for the policy at start-up: one watch,
    so the reload callbacks the main thread hangs on it are the ones that run."""
    import threading
    import time

    from mlops_hooks.shared.domain.policy import PolicyWatch
    from tests.support.fakes import dispatcher_over

    path = tmp_path / "mlops.yml"
    path.write_text("version: 1\nmodels: []\n")
    built: list[PolicyWatch] = []

    def factory() -> PolicyWatch:
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        built.append(PolicyWatch(path))
        return built[-1]

    dispatcher, ledger = dispatcher_over(tmp_path, policy=factory)
    try:
        start = threading.Barrier(4)
        seen: list[object] = []

        def ask() -> None:
            start.wait()
            dispatcher.deps.loaded_policy()
            seen.append(dispatcher.deps.policy)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(built) == 1
        assert seen == [built[0]] * 4
    finally:
        ledger.close()
