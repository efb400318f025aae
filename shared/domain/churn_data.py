"""Churn data: the IBM Telco columns, either cleaned from the real file or generated.

The demo and any test on a fresh clone (no ``../shared/data``) use ``generate``: the same
columns and types as the Telco set, with churn driven by contract, tenure, charges and
internet service the way it is in the real data, so a model trained on it behaves alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LABEL = "Churn"
ID = "customerID"
CATEGORICAL = (
    "gender",
    "Partner",
    "Dependents",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
)
NUMERIC = ("SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges")
PAYMENT_METHODS = (
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
)


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """The Telco file as published has blank TotalCharges for new customers: make them 0."""
    import pandas as pd

    out = frame.copy()
    out["TotalCharges"] = pd.to_numeric(out["TotalCharges"], errors="coerce").fillna(0.0)
    out["SeniorCitizen"] = out["SeniorCitizen"].astype("int64")
    out["tenure"] = out["tenure"].astype("int64")
    return out


def load(path: str | Path) -> pd.DataFrame:
    import pandas as pd

    return clean(pd.read_csv(path))


def generate(
    rows: int = 7043, *, seed: int = 0, shift: float = 0.0, concept: float = 0.0
) -> pd.DataFrame:
    """Churn-like rows. ``shift`` > 0 moves customers to shorter tenure and higher charges
    (data drift). ``concept`` > 0 changes what the same customers do (concept drift): at 1 the
    contract and tenure effects are reversed (a rival's offer now takes the loyal customers);
    the inputs drawn for a seed are the same whatever ``concept`` is, only ``Churn`` moves."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)

    def pick(values: list[str], p: list[float]) -> np.ndarray:
        return rng.choice(values, size=rows, p=p)

    contract = pick(["Month-to-month", "One year", "Two year"], [0.55, 0.21, 0.24])
    internet = pick(["DSL", "Fiber optic", "No"], [0.34, 0.44, 0.22])
    tenure = np.clip(
        rng.gamma(1.3, 22 * (1 - 0.5 * shift), rows)
        + np.where(contract == "Two year", 25, 0)
        + np.where(contract == "One year", 10, 0),
        0,
        72,
    ).astype("int64")
    monthly = np.round(
        np.where(internet == "Fiber optic", 85, np.where(internet == "DSL", 58, 21))
        + rng.normal(0, 9, rows)
        + 15 * shift,
        2,
    ).clip(18.25, 118.75)
    phone = pick(["Yes", "No"], [0.9, 0.1])
    no_net = internet == "No"

    def service(p_yes: float) -> np.ndarray:
        yes = rng.random(rows) < p_yes
        return np.where(no_net, "No internet service", np.where(yes, "Yes", "No"))

    security, support = service(0.36), service(0.37)
    payment = pick(
        list(PAYMENT_METHODS),
        [0.34, 0.23, 0.22, 0.21],
    )
    senior = (rng.random(rows) < 0.16).astype("int64")
    loyalty = 1 - 2 * concept  # 1: as ever; -1: reversed
    logit = (
        -1.38
        + loyalty * (1.5 * (contract == "Month-to-month") - 0.9 * (contract == "Two year"))
        - loyalty * 0.035 * (tenure - 30)
        - 0.035 * 30
        + 0.9 * (internet == "Fiber optic")
        + 0.018 * (monthly - 65)
        + 0.5 * (payment == "Electronic check")
        - 0.5 * (security == "Yes")
        - 0.4 * (support == "Yes")
        + 0.3 * senior
    )
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            ID: [f"{n:04d}-GEN{seed % 1000:03d}" for n in range(rows)],
            "gender": pick(["Male", "Female"], [0.5, 0.5]),
            "SeniorCitizen": senior,
            "Partner": pick(["Yes", "No"], [0.48, 0.52]),
            "Dependents": pick(["Yes", "No"], [0.3, 0.7]),
            "tenure": tenure,
            "PhoneService": phone,
            "MultipleLines": np.where(
                phone == "No", "No phone service", pick(["Yes", "No"], [0.47, 0.53])
            ),
            "InternetService": internet,
            "OnlineSecurity": security,
            "OnlineBackup": service(0.44),
            "DeviceProtection": service(0.44),
            "TechSupport": support,
            "StreamingTV": service(0.49),
            "StreamingMovies": service(0.5),
            "Contract": contract,
            "PaperlessBilling": pick(["Yes", "No"], [0.59, 0.41]),
            "PaymentMethod": payment,
            "MonthlyCharges": monthly,
            "TotalCharges": np.round(monthly * tenure, 2),
            LABEL: np.where(churn, "Yes", "No"),
        }
    )


def train_classifier(frame: pd.DataFrame, *, seed: int = 0) -> object:
    """A scikit-learn pipeline (one-hot + scaling + logistic regression) predicting Churn."""
    from mlops_hooks.shared.domain.training import build_pipeline

    features = frame.drop(columns=[LABEL, ID], errors="ignore")
    categorical = [c for c in CATEGORICAL if c in features]
    numeric = [c for c in NUMERIC if c in features]
    pipeline = build_pipeline(
        categorical, numeric, estimator="logistic_regression", seed=seed, impute=False
    )
    return pipeline.fit(features[categorical + numeric], frame[LABEL])


def to_telco_csv(frame: pd.DataFrame) -> str:
    """CSV text as the IBM file has it: new customers (tenure 0) with a blank TotalCharges."""
    out = frame.copy()
    out["TotalCharges"] = out["TotalCharges"].astype(object)
    out.loc[out["tenure"] == 0, "TotalCharges"] = " "
    return out.to_csv(index=False)
