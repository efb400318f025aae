"""Churn data for tests: the real IBM Telco file when it is beside the repo, else generated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_hooks.shared.domain import churn_data

TELCO = Path(__file__).resolve().parents[3] / "shared" / "data" / "telco_churn.csv"


def telco() -> pd.DataFrame:
    """The cleaned Telco data (7,043 rows), or churn-like rows of the same shape without it."""
    return churn_data.load(TELCO) if TELCO.exists() else churn_data.generate(seed=7)


def split(frame: pd.DataFrame, holdout_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    holdout = frame.sample(frac=holdout_fraction, random_state=0)
    return frame.drop(holdout.index), holdout
