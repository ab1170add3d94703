import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core import schema
from {{ cookiecutter.package_name }}.core.validation import (
    LINE,
    REASON,
    SchemaError,
    validate_customers,
)


def test_clean_rows_all_pass_typed(customers):
    result = validate_customers(customers)

    assert len(result.valid) == len(customers)
    assert result.rejected.empty
    assert result.valid["tenure"].dtype == "int64"
    assert result.valid["MonthlyCharges"].dtype == "float64"


def test_blank_total_charges_is_accepted_as_missing(customers):
    customers.loc[0, "TotalCharges"] = " "

    result = validate_customers(customers)

    assert result.rejected.empty
    assert pd.isna(result.valid.loc[0, "TotalCharges"])


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("Contract", "Weekly", "Contract='Weekly' not one of the allowed values"),
        ("tenure", "abc", "tenure='abc' is not a number"),
        ("tenure", "3.5", "tenure='3.5' is not a whole number"),
        ("MonthlyCharges", "-4", "MonthlyCharges='-4' is outside [0, 1000]"),
        ("Churn", "maybe", "Churn='maybe' must be Yes or No"),
        ("customerID", "", "customerID='' is blank"),
        ("TotalCharges", "n/a", "TotalCharges='n/a' is not a number"),
    ],
)
def test_bad_value_is_rejected_with_line_and_reason(customers, column, value, reason):
    customers.loc[3, column] = value

    result = validate_customers(customers, first_line=2)

    assert len(result.valid) == len(customers) - 1
    assert result.rejected[LINE].tolist() == [5]
    assert result.rejected[REASON].tolist() == [reason]


def test_every_broken_column_is_named(customers):
    customers.loc[0, ["gender", "tenure"]] = ["X", "-1"]

    reason = validate_customers(customers).rejected[REASON].iloc[0]

    assert "gender='X'" in reason
    assert "tenure='-1'" in reason


def test_missing_column_fails_the_whole_table(customers):
    with pytest.raises(SchemaError, match="Contract"):
        validate_customers(customers.drop(columns=["Contract"]))


def test_label_may_be_absent_when_not_required(customers):
    result = validate_customers(customers.drop(columns=[schema.TARGET]), require_target=False)

    assert len(result.valid) == len(customers)
