"""A running `serve` follows its policy file, on a real MLflow 3 server's webhooks.

- A holdout path that does not exist is a configuration error: v1 gets
  ``mlops.validation=error`` (not ``failed``) and no promotion.
- The policy is fixed while `serve` runs: v1 is validated again at once (no restart, no
  replay) and, with no champion, promoted; its outcome carries the new policy's hash.
- An invalid edit is refused (its line in the log) and the valid policy stays in force: v2,
  the very same model retrained, is validated and compared under it, and the tie keeps the
  champion.
- ``mlops.promote`` set again on v2 after its request was decided is a new request (a new
  event), and a person's third request is one more.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from mlflow import MlflowClient

from tests.support.http import HTTP
from tests.support.mlflow_models import log_and_register, version_with_alias
from tests.support.processes import Proc, wait_for

POLICY = """
models:
  - name: "reload-*"
    checks:
      loads: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.6}}, evaluator: builtin}
    holdout: {uri: HOLDOUT, label: Churn, positive_label: "Yes"}
    comparison: {resamples: 200}
    promotion: {mode: auto}
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_a_running_serve_follows_policy_edits(
    mlflow_server: Proc, validating_serve, churn, tmp_path: Path
) -> None:
    train, holdout_csv, model = churn
    policy = tmp_path / "mlops.yml"
    missing = tmp_path / "no-such-holdout.csv"
    policy.write_text(POLICY.replace("HOLDOUT", str(missing)))
    serve = validating_serve(MLOPS_HOOKS_POLICY=str(policy))
    client = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"reload-{uuid.uuid4().hex[:6]}"

    def tags(version: str) -> dict[str, str]:
        return client.get_model_version(name, version).tags

    def records(kind: str, version: str) -> list[dict]:
        listed = HTTP.get(f"{serve.url}/events", params={"kind": kind, "limit": 500}).json()
        mine = [e for e in listed if e["model"] == name and e["version"] == version]
        return [HTTP.get(f"{serve.url}/events/{e['id']}").json() for e in mine]

    def requests(version: str) -> list[dict]:
        return records("promotion_requested", version)

    # 1. the missing holdout is the configuration's fault, not the model's
    v1 = log_and_register(mlflow_server.url, name, model, train, client=client)
    wait_for(lambda: tags(v1).get("mlops.validation"), 120, "v1's verdict")
    assert tags(v1)["mlops.validation"] == "error"
    assert "no-such-holdout.csv" in tags(v1)["mlops.validation.error"]
    assert version_with_alias(client, name) is None

    # 2. fixed while serve runs: v1 is validated again and, with no champion, promoted
    policy.write_text(POLICY.replace("HOLDOUT", str(holdout_csv)))
    fixed = digest(policy)
    wait_for(lambda: tags(v1).get("mlops.validation") == "passed", 120, "v1 validated again")
    wait_for(lambda: version_with_alias(client, name) == v1, 120, "v1 to become champion")
    assert f"policy reloaded: {policy} (sha256 {fixed})" in serve.output()
    # the registry's tags are written before the ledger records the outcome: wait for both
    [record] = wait_for(
        lambda: [r for r in records("model_registered", v1) if r["status"] == "done"],
        30,
        "v1's registration done",
    )
    assert record["outcome"]["result"] == "passed" and record["outcome"]["policy"] == fixed
    assert "policy changed" in [h.get("note") for h in record["history"]]

    # 3. an invalid edit is refused with its line; the policy in force stays
    policy.write_text(policy.read_text().replace("comparison:", "comparsion:"))
    wait_for(lambda: "policy edit refused" in serve.output(), 30, "the refusal in the log")
    assert "comparsion" in serve.output() and f"{policy}:" in serve.output()
    v2 = log_and_register(mlflow_server.url, name, model, train, client=client)  # identical
    wait_for(lambda: tags(v2).get("mlops.promotion"), 120, "v2's promotion verdict")
    assert tags(v2)["mlops.validation"] == "passed"  # the valid policy's checks ran
    assert tags(v2)["mlops.promotion"] == "rejected"
    assert version_with_alias(client, name) == v1  # a tie keeps the champion
    [first] = wait_for(
        lambda: [r for r in requests(v2) if r["status"] == "done"], 30, "v2's request done"
    )
    assert first["outcome"]["policy"] == fixed
    assert "a tie keeps the champion" in " ".join(first["outcome"]["data"]["reasons"])

    # 4. a person asks again after the decision: a new event each time
    for round_ in (2, 3):
        client.set_model_version_tag(name, v2, "mlops.promote", "champion")
        wait_for(
            lambda n=round_: len([r for r in requests(v2) if r["status"] == "done"]) == n,
            120,
            f"request {round_} to be decided",
        )
    keys = sorted(r["key"] for r in requests(v2))
    assert len(keys) == 3 and sum(":again:" in k for k in keys) == 2
    assert version_with_alias(client, name) == v1
