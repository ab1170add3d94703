"""A seeded generator of customers in the Telco contract, with a knob that injects drift.

``drift`` in [0, 1] moves the population towards short month-to-month contracts, fibre,
electronic cheques and higher prices, and raises the churn rate on top of what those shifts
explain, so both the features and the label relationship change: fibre customers churn more
and long tenure protects less, which reorders who is at risk. A model retrained on drifted data
therefore ranks drifted customers better than the old one (a higher ROC-AUC), not only with
better calibrated scores. At ``drift`` 0 none of this applies (the rows stay the same).
"""

import numpy as np
import pandas as pd

from . import schema

LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
ADD_ON_RATES = {
    "OnlineSecurity": 0.37,
    "OnlineBackup": 0.44,
    "DeviceProtection": 0.44,
    "TechSupport": 0.37,
    "StreamingTV": 0.49,
    "StreamingMovies": 0.50,
}


def generate_customers(
    rows: int, rng: np.random.Generator, drift: float = 0.0, first_id: int = 0
) -> pd.DataFrame:
    """``rows`` customers as the public CSV spells them (TotalCharges blank at tenure 0)."""
    frame = pd.DataFrame({schema.ID_COLUMN: _customer_ids(rows, rng, first_id)})
    frame["gender"] = rng.choice(["Female", "Male"], rows)
    frame["SeniorCitizen"] = (rng.random(rows) < 0.16 + 0.08 * drift).astype("int64")
    partner = rng.random(rows) < 0.48
    frame["Partner"] = _yes_no(partner)
    frame["Dependents"] = _yes_no(rng.random(rows) < np.where(partner, 0.5, 0.1))
    contract = _contract(rows, rng, drift)
    frame["tenure"] = _tenure(contract, rng, drift)
    phone = rng.random(rows) < 0.9
    frame["PhoneService"] = _yes_no(phone)
    multiple = rng.random(rows) < 0.47
    frame["MultipleLines"] = np.where(phone, _yes_no(multiple), "No phone service")
    internet = _pick(
        rng, ["DSL", "Fiber optic", "No"], [0.34 - 0.1 * drift, 0.44 + 0.1 * drift, 0.22], rows
    )
    frame["InternetService"] = internet
    for column, rate in ADD_ON_RATES.items():
        has = rng.random(rows) < rate
        frame[column] = np.where(internet == "No", "No internet service", _yes_no(has))
    frame["Contract"] = contract
    frame["PaperlessBilling"] = _yes_no(rng.random(rows) < 0.59)
    frame["PaymentMethod"] = _pick(
        rng,
        list(schema.CATEGORIES["PaymentMethod"]),
        [0.34 + 0.2 * drift, 0.23 - 0.1 * drift, 0.22 - 0.05 * drift, 0.21 - 0.05 * drift],
        rows,
    )
    frame["MonthlyCharges"] = _monthly_charges(frame, rng, drift)
    frame["TotalCharges"] = _total_charges(frame, rng)
    frame[schema.TARGET] = _yes_no(rng.random(rows) < _churn_probability(frame, drift))
    return frame[list(schema.COLUMNS)]


def _yes_no(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "Yes", "No")


def _pick(
    rng: np.random.Generator, values: list[str], weights: list[float], rows: int
) -> np.ndarray:
    probabilities = np.asarray(weights) / np.sum(weights)
    return np.asarray(values)[rng.choice(len(values), rows, p=probabilities)]


def _customer_ids(rows: int, rng: np.random.Generator, first_id: int) -> np.ndarray:
    """'1234-ABCDE' like the public data; the letters encode the row number, so ids are unique."""
    numbers = np.arange(first_id, first_id + rows)
    ids = np.char.add(np.char.zfill(rng.integers(0, 10_000, rows).astype(str), 4), "-")
    for power in range(4, -1, -1):
        ids = np.char.add(ids, LETTERS[(numbers // 26**power) % 26])
    return ids


def _contract(rows: int, rng: np.random.Generator, drift: float) -> np.ndarray:
    weights = [0.55 + 0.3 * drift, 0.21 - 0.15 * drift, 0.24 - 0.15 * drift]
    return _pick(rng, list(schema.CATEGORIES["Contract"]), weights, rows)


def _tenure(contract: np.ndarray, rng: np.random.Generator, drift: float) -> np.ndarray:
    shape = {"Month-to-month": (0.8, 2.0), "One year": (1.5, 1.3), "Two year": (2.5, 0.9)}
    months = np.empty(len(contract))
    for name, (a, b) in shape.items():
        chosen = contract == name
        months[chosen] = 72 * rng.beta(a, b, chosen.sum())
    return np.round(months * (1 - 0.4 * drift)).astype("int64")


def _monthly_charges(frame: pd.DataFrame, rng: np.random.Generator, drift: float) -> np.ndarray:
    price = 20.0 * (frame["PhoneService"] == "Yes") + 5.0 * (frame["MultipleLines"] == "Yes")
    price += frame["InternetService"].map({"DSL": 25.0, "Fiber optic": 50.0, "No": 0.0})
    for column in ADD_ON_RATES:
        price += 5.0 * (frame[column] == "Yes")
    price += rng.normal(0, 3, len(frame)) + 10 * drift
    return price.clip(18.25, 130.0).round(2).to_numpy()


def _total_charges(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    billed = frame["tenure"] * frame["MonthlyCharges"] * rng.uniform(0.95, 1.05, len(frame))
    text = np.char.mod("%.2f", billed.to_numpy())
    # The public CSV leaves TotalCharges blank (a single space) for customers at tenure 0.
    return np.where(frame["tenure"].to_numpy() == 0, " ", text)


def _churn_probability(frame: pd.DataFrame, drift: float) -> np.ndarray:
    logit = (
        -1.0
        + 1.1 * (frame["Contract"] == "Month-to-month")
        - 1.0 * (frame["Contract"] == "Two year")
        # Concept drift: a competitor's fibre offer pulls fibre customers away, and long
        # tenure protects less (at drift 0 these are the base coefficients, 0.7 and 0.035).
        + (0.7 + 1.0 * drift) * (frame["InternetService"] == "Fiber optic")
        - (0.035 - 0.02 * drift) * frame["tenure"]
        + 0.5 * (frame["PaymentMethod"] == "Electronic check")
        + 0.3 * frame["SeniorCitizen"]
        + 0.3 * (frame["PaperlessBilling"] == "Yes")
        - 0.4 * (frame["TechSupport"] == "Yes")
        - 0.4 * (frame["OnlineSecurity"] == "Yes")
        - 0.2 * (frame["Partner"] == "Yes")
        + 0.01 * (frame["MonthlyCharges"] - 65)
        + 0.5 * drift
    )
    return (1 / (1 + np.exp(-logit))).to_numpy()
