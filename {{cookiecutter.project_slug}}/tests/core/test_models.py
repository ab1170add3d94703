import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from {{ cookiecutter.package_name }}.configs import GradientBoostingConfig, ModelConfig
from {{ cookiecutter.package_name }}.core.features import churn_labels
from {{ cookiecutter.package_name }}.core.models import build_model, fit_in_steps
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.core.validation import validate_customers


@pytest.fixture(scope="module")
def typed():
    raw = generate_customers(3_000, np.random.default_rng(1)).astype(str)
    valid = validate_customers(raw).valid
    return valid[list(INPUT_COLUMNS)], churn_labels(valid)


@pytest.mark.parametrize("kind", ["logistic_regression", "gradient_boosting"])
def test_each_model_kind_learns_the_signal(typed, kind):
    features, labels = typed
    config = ModelConfig(kind=kind, gradient_boosting=GradientBoostingConfig(max_iter=30))
    model = build_model(config)

    steps = list(fit_in_steps(model, features, labels))

    assert steps[-1][0] == steps[-1][1]
    scores = model.predict_proba(features)[:, 1]
    assert roc_auc_score(labels, scores) > 0.75


def test_stepwise_boosting_equals_one_fit(typed):
    features, labels = typed
    config = ModelConfig(
        kind="gradient_boosting", gradient_boosting=GradientBoostingConfig(max_iter=25)
    )
    stepwise, whole = build_model(config), build_model(config)

    list(fit_in_steps(stepwise, features, labels, step=10))
    whole.fit(features, labels)

    np.testing.assert_allclose(
        stepwise.predict_proba(features), whole.predict_proba(features), rtol=1e-12
    )


def test_unknown_category_at_scoring_time_does_not_crash(typed):
    features, labels = typed
    model = build_model(ModelConfig())
    model.fit(features, labels)
    odd = features.head(1).assign(PaymentMethod="Crypto")

    assert 0.0 <= model.predict_proba(odd)[0, 1] <= 1.0
