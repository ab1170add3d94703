import numpy as np

from {{ cookiecutter.package_name }}.core import schema
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.core.validation import validate_customers


def make(rows: int = 20_000, seed: int = 3, drift: float = 0.0):
    return generate_customers(rows, np.random.default_rng(seed), drift=drift)


def test_same_seed_same_rows():
    assert make(1_000).equals(make(1_000))
    assert not make(1_000).equals(make(1_000, seed=4))


def test_rows_honour_the_contract_including_blank_total_charges():
    rows = make().astype(str)

    result = validate_customers(rows)

    assert list(rows.columns) == list(schema.COLUMNS)
    assert result.rejected.empty
    assert (rows["TotalCharges"] == " ").sum() == (rows["tenure"] == "0").sum() > 0


def test_ids_are_unique_across_chunks():
    first = generate_customers(1_000, np.random.default_rng(0), first_id=0)
    second = generate_customers(1_000, np.random.default_rng(1), first_id=1_000)

    ids = set(first[schema.ID_COLUMN]) | set(second[schema.ID_COLUMN])
    assert len(ids) == 2_000


def test_churn_rate_resembles_the_public_table():
    rate = (make()["Churn"] == "Yes").mean()

    assert 0.2 < rate < 0.33


def test_drift_shifts_features_and_churn_rate():
    calm, drifted = make(), make(drift=1.0)

    assert (drifted["Churn"] == "Yes").mean() > (calm["Churn"] == "Yes").mean() + 0.1
    assert drifted["MonthlyCharges"].mean() > calm["MonthlyCharges"].mean() + 5
    assert (drifted["Contract"] == "Month-to-month").mean() > (
        calm["Contract"] == "Month-to-month"
    ).mean()
