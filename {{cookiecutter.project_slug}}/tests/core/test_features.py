import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.core.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    build_features,
    churn_labels,
)
from {{ cookiecutter.package_name }}.core.validation import validate_customers


def test_features_have_every_declared_column(customers):
    features = build_features(validate_customers(customers).valid)

    assert list(features.columns) == list(NUMERIC_FEATURES + CATEGORICAL_FEATURES)
    assert "customerID" not in features
    assert "Churn" not in features


def test_blank_total_charges_means_nothing_billed_yet(customers):
    customers.loc[0, ["tenure", "TotalCharges"]] = ["0", ""]

    features = build_features(validate_customers(customers).valid)

    assert features.loc[0, "TotalCharges"] == 0.0
    assert not features["TotalCharges"].isna().any()


def test_add_on_count_counts_yes_answers():
    row: dict[str, object] = dict.fromkeys(CATEGORICAL_FEATURES, "No")
    row.update(OnlineSecurity="Yes", StreamingTV="Yes", SeniorCitizen=0, tenure=1)
    row.update(MonthlyCharges=50.0, TotalCharges=np.nan)

    features = build_features(pd.DataFrame([row]))

    assert features.loc[0, "add_on_count"] == 2


def test_labels_map_yes_no_to_one_zero():
    labels = churn_labels(pd.DataFrame({"Churn": ["Yes", "No", "Yes"]}))

    assert labels.tolist() == [1, 0, 1]
