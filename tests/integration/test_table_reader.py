"""Holdout tables: local and S3 (moto server), CSV, Parquet and Delta (delta-rs)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import boto3
import pandas as pd
import pytest
from deltalake import write_deltalake

from mlops_hooks.shared.adapters.table_reader import read_table
from mlops_hooks.shared.domain.errors import TableError
from mlops_hooks.shared.domain.policy import DataFormat

FRAME = pd.DataFrame(
    {"tenure": [1, 24, 60], "MonthlyCharges": [29.85, 56.95, 108.15], "Churn": ["Yes", "No", "No"]}
)


@pytest.mark.parametrize("kind", ["csv", "parquet", "delta"])
def test_local_tables(tmp_path: Path, kind: str) -> None:
    path = tmp_path / (f"holdout.{kind}" if kind != "delta" else "holdout")
    if kind == "csv":
        FRAME.to_csv(path, index=False)
    elif kind == "parquet":
        FRAME.to_parquet(path)
    else:
        write_deltalake(str(path), FRAME)
    got = read_table(str(path))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), FRAME)


@pytest.mark.parametrize("kind", ["csv", "parquet", "delta"])
def test_s3_tables_on_moto(moto_server: str, tmp_path: Path, kind: str) -> None:
    bucket = f"holdout-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket=bucket)
    if kind == "delta":
        uri = f"s3://{bucket}/tables/holdout"
        local = tmp_path / "t"
        write_deltalake(str(local), FRAME)
        for file in local.rglob("*"):
            if file.is_file():
                s3.upload_file(str(file), bucket, f"tables/holdout/{file.relative_to(local)}")
    else:
        uri = f"s3://{bucket}/holdout.{kind}"
        buffer = io.BytesIO()
        FRAME.to_csv(buffer, index=False) if kind == "csv" else FRAME.to_parquet(buffer)
        s3.put_object(Bucket=bucket, Key=f"holdout.{kind}", Body=buffer.getvalue())
    got = read_table(uri, endpoint_url=moto_server)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), FRAME)


def test_sampling_and_errors(tmp_path: Path, moto_server: str) -> None:
    path = tmp_path / "h.csv"
    FRAME.to_csv(path, index=False)
    assert len(read_table(str(path), sample_rows=2)) == 2
    with pytest.raises(TableError, match="no such file"):
        read_table(str(tmp_path / "missing.csv"))
    with pytest.raises(TableError, match="cannot tell the format"):
        read_table(str(tmp_path / "holdout"))
    with pytest.raises(TableError, match="not a Delta table"):
        read_table(str(tmp_path), DataFormat.DELTA)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(TableError, match="cannot read as parquet"):
        read_table(str(tmp_path / "bad.parquet"))
    bucket = f"empty-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server).create_bucket(Bucket=bucket)
    with pytest.raises(TableError, match="no such object"):
        read_table(f"s3://{bucket}/h.csv", endpoint_url=moto_server)
    with pytest.raises(TableError, match="NoSuchBucket"):
        read_table("s3://nope-bucket-x/h.csv", endpoint_url=moto_server)


def test_a_partitioned_delta_table_reads_whole_and_at_an_earlier_version(tmp_path: Path) -> None:
    """The Delta read goes through delta-rs' query engine: partition values (kept in the log,
    not in the files) come back, and ``version`` reads the table as it was."""
    from deltalake import DeltaTable

    path = str(tmp_path / "scores")
    first = FRAME.assign(score_date="2026-11-01")
    write_deltalake(path, first, partition_by=["score_date"])
    write_deltalake(path, FRAME.assign(score_date="2026-11-02"), mode="append")
    order = ["score_date", "tenure"]
    got = read_table(path, DataFormat.DELTA).sort_values(order).reset_index(drop=True)
    expected = DeltaTable(path).to_pandas().sort_values(order).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    assert sorted(got["score_date"].unique()) == ["2026-11-01", "2026-11-02"]
    earlier = read_table(path, DataFormat.DELTA, version=0).reset_index(drop=True)
    pd.testing.assert_frame_equal(earlier[first.columns].sort_values("tenure"), first)
