"""Turn contract rows into model features and labels."""

import pandas as pd

from . import schema

NUMERIC_FEATURES = ("SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges", "add_on_count")
CATEGORICAL_FEATURES = tuple(schema.CATEGORIES)


def build_features(customers: pd.DataFrame) -> pd.DataFrame:
    """Model features from typed contract rows (extra columns such as the label are ignored)."""
    features = customers[list(schema.INPUT_COLUMNS)].copy()
    # A blank TotalCharges in the public data marks a brand-new customer: nothing billed yet.
    features["TotalCharges"] = features["TotalCharges"].fillna(
        features["tenure"] * features["MonthlyCharges"]
    )
    features["add_on_count"] = (features[list(schema.ADD_ONS)] == "Yes").sum(axis=1)
    return features[list(NUMERIC_FEATURES + CATEGORICAL_FEATURES)]


def churn_labels(customers: pd.DataFrame) -> pd.Series:
    """The label as 0/1 (the contract spells it Yes/No)."""
    return (customers[schema.TARGET] == "Yes").astype("int64").rename("churn")
