"""Champion vs challenger on a real MLflow 3 server, driven by its own webhooks (auto mode).

v1 (a weak model: tenure and charges only) becomes champion because there is none; v2 (every
column) beats it and is promoted, v1 kept as previous_champion; v3 (the weak model again)
passes validation but loses the comparison: rejected, the champion stays v2.
"""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from pathlib import Path

from mlflow import MlflowClient

from mlops_hooks.shared.adapters.markdown import read_section
from tests.conftest import webhook_env
from tests.support.mlflow_models import (
    WEAK_COLUMNS,
    log_and_register,
    policy_with_holdout,
    version_with_alias,
    weak_classifier,
)
from tests.support.processes import Proc, cli, wait_for

POLICY = """
models:
  - name: "promo-*"
    checks:
      loads: {}
      signature: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.6}}, evaluator: builtin}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    comparison:
      {metric: roc_auc, min_improvement: 0.0, resamples: 400, guardrails: {accuracy: 0.05}}
    promotion: {mode: auto}
"""


def test_better_challengers_are_promoted_and_worse_ones_rejected(
    mlflow_server: Proc, validating_serve, churn, tmp_path: Path
) -> None:
    train, holdout_csv, full_model = churn
    weak_columns, weak_model = WEAK_COLUMNS, weak_classifier(train)
    policy = policy_with_holdout(tmp_path, POLICY, holdout_csv)
    validating_serve(MLOPS_HOOKS_POLICY=policy)
    client = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"promo-{uuid.uuid4().hex[:6]}"

    def champion() -> str | None:
        return version_with_alias(client, name)

    def promotion_tag(version: str) -> str | None:
        return client.get_model_version(name, version).tags.get("mlops.promotion")

    v1 = log_and_register(mlflow_server.url, name, weak_model, train[weak_columns], client=client)
    wait_for(lambda: champion() == v1, 120, "v1 to become champion (no champion before)")
    assert "no champion yet" in read_section(
        client.get_model_version(name, v1).description, "promotion"
    )

    v2 = log_and_register(mlflow_server.url, name, full_model, train, client=client)
    wait_for(lambda: champion() == v2, 120, "v2 to be promoted over v1")
    assert client.get_model_version_by_alias(name, "previous_champion").version == v1
    report = read_section(client.get_model_version(name, v2).description, "promotion")
    assert report.startswith(f"### mlops-hooks promotion: ✅ promote v{v2}")
    assert "| roc_auc (primary) |" in report and "(guardrail)" in report
    assert "![champion vs challenger](" in report and "get-artifact?path=mlops-hooks/" in report
    run_id = client.get_model_version(name, v2).run_id
    assert [a.path for a in client.list_artifacts(run_id, "mlops-hooks")] == [
        f"mlops-hooks/champion-vs-v{v2}.png"
    ]

    v3 = log_and_register(mlflow_server.url, name, weak_model, train[weak_columns], client=client)
    wait_for(lambda: promotion_tag(v3), 120, "v3's promotion verdict")
    assert promotion_tag(v3) == "rejected"
    assert champion() == v2
    # v3's validation asked for promotion with the challenger alias; rejected, it loses it
    # (right after the rejection tag: wait for it, do not race it)
    wait_for(
        lambda: version_with_alias(client, name, "challenger") is None,
        60,
        "the challenger alias to come off the rejected v3",
    )
    report = read_section(client.get_model_version(name, v3).description, "promotion")
    assert report.startswith(f"### mlops-hooks promotion: ❌ reject v{v3}")
    assert "interval of the improvement starts at" in report

    # compare (no action): the same decision from the command line, as JSON
    env = webhook_env(mlflow_server, tmp_path / "cli-state", MLOPS_HOOKS_POLICY=policy)
    shown = cli("compare", name, v3, "--json", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    decided = json.loads(shown.stdout)
    assert decided["verdict"] == "reject" and decided["champion_version"] == v2
    assert decided["primary"]["delta"] < 0
    assert champion() == v2  # compare never acts

    # rollback: the champion goes back to the previous one, and says so; the command is an
    # event in the ledger (source cli, who ran it), carried out once when it is retried
    request = uuid.uuid4().hex
    done = cli("rollback", name, "--request-id", request, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"moved 'champion' from v{v2} back to v{v1}" in done.stdout
    assert champion() == v1
    again = cli("rollback", name, "--request-id", request, env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"request {request} was recorded before" in again.stdout
    assert champion() == v1  # not swapped back: one rollback
    listed = cli("events", "list", "--kind", "action", "--json", env=env, cwd=tmp_path)
    [action] = json.loads(listed.stdout)
    assert (action["source"], action["task"], action["status"]) == ("cli", "rollback", "done")
    assert action["deliveries"] == 2 and action["model"] == name
    assert action["user"] == f"{getpass.getuser()}@{socket.gethostname()}"
    table = cli("events", "list", env={**env, "COLUMNS": "160"}, cwd=tmp_path)
    assert "action:rollback" in table.stdout and "cli" in table.stdout
    # running the command again is a new request: the aliases swap back
    assert cli("rollback", name, env=env, cwd=tmp_path).returncode == 0
    assert champion() == v2
