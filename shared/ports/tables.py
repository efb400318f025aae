"""The tables port: holdouts, landed data and Delta tables read into pandas, rows appended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd


class Tables(Protocol):
    """Reads a table (holdout, landed data) into pandas; appends to a Delta table."""

    def read(
        self,
        uri: str,
        fmt: str = "auto",
        *,
        sample_rows: int | None = None,
        version: int | None = None,  # a Delta table's version (time travel)
    ) -> pd.DataFrame: ...

    def append(
        self, uri: str, frame: pd.DataFrame, *, partition_by: list[str] | None = None
    ) -> None:
        """Append rows to a Delta table (created by the first append)."""
        ...
