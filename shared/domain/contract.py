"""The data contract landed data must meet before it is trained on (policy ``data.contract``):
required columns and their types, a minimum number of rows, a maximum null fraction per column.
Every violation is reported, each in one line naming its column."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mlops_hooks.shared.domain.policy import DataContract


def violations(frame: pd.DataFrame, contract: DataContract) -> list[str]:
    from pandas.api import types as t

    found: list[str] = []
    if len(frame) < contract.min_rows:
        found.append(f"{len(frame)} rows; the contract needs at least {contract.min_rows}")
    matches = {
        "string": lambda s: t.is_string_dtype(s) or t.is_object_dtype(s),
        "integer": lambda s: t.is_integer_dtype(s) and not t.is_bool_dtype(s),
        "float": lambda s: t.is_numeric_dtype(s) and not t.is_bool_dtype(s),
        "boolean": t.is_bool_dtype,
        "any": lambda s: True,
    }
    for column, wanted in contract.required_columns.items():
        if column not in frame.columns:
            found.append(f"missing required column {column!r} ({wanted})")
        elif not matches[wanted](frame[column]):
            found.append(f"column {column!r} is {frame[column].dtype}, the contract says {wanted}")
    if len(frame) and contract.max_null_fraction < 1:
        nulls = frame.isna().mean()
        for column, fraction in nulls.items():
            if fraction > contract.max_null_fraction:
                found.append(
                    f"column {column!r} is {fraction:.1%} null; at most "
                    f"{contract.max_null_fraction:.1%} allowed"
                )
    return found
