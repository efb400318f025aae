"""`policy check` warns about holdouts this machine cannot reach: a local path that does not
exist, an s3:// object or Delta prefix the configured credentials cannot see (moto in server
mode over HTTP); the ones that are there say nothing."""

from __future__ import annotations

from pathlib import Path

import boto3

from tests.support.processes import cli

POLICY = """
models:
  - name: here
    holdout: {uri: HERE, label: Churn}
  - name: gone
    holdout: {uri: GONE, label: Churn}
  - name: s3-object
    holdout: {uri: "s3://holdouts/churn.csv", label: Churn}
  - name: s3-delta
    holdout: {uri: "s3://holdouts/delta-table", label: Churn}
  - name: s3-missing
    holdout: {uri: "s3://holdouts/nothing.csv", label: Churn}
"""


def test_unreachable_holdouts_are_warned_about(moto_server: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="holdouts")
    s3.put_object(Bucket="holdouts", Key="churn.csv", Body=b"a,Churn\n1,No\n")
    s3.put_object(Bucket="holdouts", Key="delta-table/_delta_log/0.json", Body=b"{}")
    here = tmp_path / "holdout.csv"
    here.write_text("a,Churn\n1,No\n")
    policy = tmp_path / "mlops.yml"
    text = POLICY.replace("HERE", str(here)).replace("GONE", str(tmp_path / "gone.csv"))
    policy.write_text(text)
    checked = cli(
        "policy", "check", str(policy), env={"AWS_ENDPOINT_URL": moto_server}, cwd=tmp_path
    )
    assert checked.returncode == 0  # warnings, not errors
    warned = [line for line in checked.stderr.splitlines() if "holdout.uri" in line]
    assert len(warned) == 2, checked.stderr
    assert (
        f"model 'gone': holdout.uri cannot be read from here ({tmp_path / 'gone.csv'}"
        in (warned[0])
    )
    assert "model 's3-missing'" in warned[1] and "s3://holdouts/nothing.csv" in warned[1]
    assert "verdict of error" in warned[1]
