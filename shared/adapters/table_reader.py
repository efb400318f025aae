"""Read a table (a holdout, landed data) into pandas: local or s3://; CSV, Parquet or Delta.

Delta goes through delta-rs (``deltalake``): Delta's Spark jars cannot be fetched on these
machines, and the reader needs no JVM. S3 objects go through boto3 (so AWS_ENDPOINT_URL points
it at moto or LocalStack); S3 Delta tables through delta-rs' own object store.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from mlops_hooks.shared.domain.errors import TableError
from mlops_hooks.shared.domain.policy import DataFormat

if TYPE_CHECKING:
    import pandas as pd


def detect_format(
    uri: str, fmt: DataFormat = DataFormat.AUTO, *, endpoint_url: str | None = None
) -> DataFormat:
    if fmt is not DataFormat.AUTO:
        return fmt
    suffix = Path(urlparse(uri).path).suffix.lower()
    if uri.startswith("s3://") and not suffix and _s3_has_delta_log(uri, endpoint_url):
        return DataFormat.DELTA
    if not uri.startswith("s3://") and (Path(uri) / "_delta_log").is_dir():
        return DataFormat.DELTA
    if suffix in (".csv", ".txt"):
        return DataFormat.CSV
    if suffix in (".parquet", ".pq"):
        return DataFormat.PARQUET
    raise TableError(
        f"{uri}: cannot tell the format from the name; set holdout.format (csv, parquet or delta)"
    )


def read_table(
    uri: str,
    fmt: DataFormat = DataFormat.AUTO,
    *,
    endpoint_url: str | None = None,
    sample_rows: int | None = None,
    version: int | None = None,
) -> pd.DataFrame:
    import pandas as pd

    kind = detect_format(uri, fmt, endpoint_url=endpoint_url)
    try:
        if kind is DataFormat.DELTA:
            frame = _read_delta(uri, endpoint_url, version)
        else:
            source: object = _s3_bytes(uri, endpoint_url) if uri.startswith("s3://") else uri
            if isinstance(source, str) and not Path(source).exists():
                raise TableError(f"{uri}: no such file")
            frame = pd.read_csv(source) if kind is DataFormat.CSV else pd.read_parquet(source)
    except TableError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TableError(
            f"{uri}: cannot read as {kind.value}: {type(exc).__name__}: {first}"
        ) from None
    if sample_rows is not None and len(frame) > sample_rows:
        frame = frame.sample(n=sample_rows, random_state=0)
    return frame


def _s3_has_delta_log(uri: str, endpoint_url: str | None) -> bool:
    import boto3

    parsed = urlparse(uri)
    prefix = parsed.path.strip("/") + "/_delta_log/"
    try:
        found = boto3.client("s3", endpoint_url=endpoint_url).list_objects_v2(
            Bucket=parsed.netloc, Prefix=prefix, MaxKeys=1
        )
    except Exception:  # unreadable here: the read below says why
        return False
    return found.get("KeyCount", 0) > 0


def _s3_bytes(uri: str, endpoint_url: str | None) -> io.BytesIO:
    import boto3

    parsed = urlparse(uri)
    client = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        body = client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"]
    except client.exceptions.NoSuchKey:
        raise TableError(f"{uri}: no such object") from None
    return io.BytesIO(body.read())


def delta_storage_options(uri: str, endpoint_url: str | None) -> dict[str, str] | None:
    """delta-rs' object-store options for ``s3://`` tables (credentials from the environment)."""
    if not uri.startswith("s3://"):
        return None
    env = os.environ
    options = {
        "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID"),
        "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY"),
        "AWS_SESSION_TOKEN": env.get("AWS_SESSION_TOKEN"),
        "AWS_REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ALLOW_HTTP": "true" if endpoint_url and endpoint_url.startswith("http:") else None,
        # S3 has no atomic rename: without a locking provider delta-rs refuses concurrent-unsafe
        # writes; one writer per table (our jobs) makes the unsafe rename acceptable
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }
    return {k: v for k, v in options.items() if v}


def _read_delta(uri: str, endpoint_url: str | None, version: int | None = None) -> pd.DataFrame:
    """The table through delta-rs' own query engine (its ``QueryBuilder``), not
    ``DeltaTable.to_pandas``: that one reads through a pyarrow dataset whose file system calls
    back into Python from Arrow's I/O threads, and a process that exits right after it aborted
    ("terminate called without an active exception", exit 134) in 4-8 of 60 runs on a busy
    machine, after printing its whole answer; 0 of 80 this way (2026-12-06, deltalake 1.6)."""
    import pyarrow as pa
    from deltalake import DeltaTable, QueryBuilder

    if not uri.startswith("s3://") and not (Path(uri) / "_delta_log").is_dir():
        raise TableError(f"{uri}: not a Delta table (no _delta_log)")
    options = delta_storage_options(uri, endpoint_url)
    table = DeltaTable(uri, version=version, storage_options=options)
    rows = QueryBuilder().register("delta_table", table).execute("SELECT * FROM delta_table")
    return pa.table(rows).to_pandas()


def append_delta(
    uri: str,
    frame: pd.DataFrame,
    *,
    partition_by: list[str] | None = None,
    endpoint_url: str | None = None,
) -> None:
    from deltalake import write_deltalake

    write_deltalake(
        uri,
        frame,
        mode="append",
        partition_by=partition_by,
        storage_options=delta_storage_options(uri, endpoint_url),
    )


def unreachable(uri: str, endpoint_url: str | None = None) -> str | None:
    """Why ``uri`` cannot be read from here (None: it is there), without reading it: a local
    path must exist; an s3:// object (or a Delta table's prefix) must answer a head or a
    one-key listing with the configured credentials. Other schemes (dbfs:, /Volumes on a
    cluster) are not checked here: None."""
    from pathlib import Path

    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = Path(parsed.path if parsed.scheme else uri)
        return None if path.exists() else f"{uri}: no such file or directory here"
    if parsed.scheme != "s3":
        return None
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint_url)
    key = parsed.path.lstrip("/")
    try:
        client.head_object(Bucket=parsed.netloc, Key=key)
        return None
    except Exception as exc:
        head_error = exc
    try:  # a Delta table (or any folder) is a prefix, not an object
        listed = client.list_objects_v2(
            Bucket=parsed.netloc, Prefix=key.rstrip("/") + "/", MaxKeys=1
        )
    except Exception as exc:
        return f"{uri}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if listed.get("KeyCount", 0):
        return None
    return f"{uri}: no such object or prefix ({type(head_error).__name__})"


class TableReader:
    """The Tables port over ``read_table``: one S3 endpoint (moto, LocalStack) per deployment."""

    def __init__(self, *, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url

    def read(
        self,
        uri: str,
        fmt: str = "auto",
        *,
        sample_rows: int | None = None,
        version: int | None = None,
    ) -> pd.DataFrame:
        return read_table(
            uri,
            DataFormat(fmt),
            endpoint_url=self.endpoint_url,
            sample_rows=sample_rows,
            version=version,
        )

    def rows(self, uri: str) -> int | None:
        """A Delta table's row count from its statistics (no data read); None if unknown."""
        from deltalake import DeltaTable

        try:
            table = DeltaTable(uri, storage_options=delta_storage_options(uri, self.endpoint_url))
            counts = table.get_add_actions(flatten=True).column("num_records").to_pylist()
        except Exception:  # not a Delta table, or no statistics: the caller decides
            return None
        return None if any(c is None for c in counts) else int(sum(counts))

    def append(
        self, uri: str, frame: pd.DataFrame, *, partition_by: list[str] | None = None
    ) -> None:
        append_delta(uri, frame, partition_by=partition_by, endpoint_url=self.endpoint_url)
