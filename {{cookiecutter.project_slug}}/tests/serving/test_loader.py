"""The self-check at load: compiled scoring only where it agrees with the model itself."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.configs import ModelConfig
from {{ cookiecutter.package_name }}.core.features import churn_labels
from {{ cookiecutter.package_name }}.core.models import build_model
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.core.validation import validate_customers
from {{ cookiecutter.package_name }}.serving.loader import checked_scorer


class TemperedRegression(LogisticRegression):
    """Logistic regression whose probabilities are softened: a compiled dot product misses it."""

    def predict_proba(self, X):
        churn = expit(self.decision_function(X) / 2)
        return np.column_stack([1 - churn, churn])


def fitted(classifier) -> Pipeline:
    rows = validate_customers(generate_customers(1_500, np.random.default_rng(3)).astype(str)).valid
    model = build_model(ModelConfig()).set_params(classifier=classifier)
    return model.fit(rows[list(INPUT_COLUMNS)], churn_labels(rows))


def test_a_model_the_compiled_scorer_agrees_with_is_served_compiled():
    scorer, difference = checked_scorer(fitted(LogisticRegression()))

    assert scorer.kind == "compiled"
    assert difference <= 1e-12


def test_a_model_the_compiled_scorer_gets_wrong_is_served_as_it_is():
    model = fitted(TemperedRegression())

    scorer, difference = checked_scorer(model)

    assert scorer.kind == "pipeline"
    assert difference == 0.0


def test_a_model_whose_scores_are_not_probabilities_is_refused():
    model = fitted(LogisticRegression())
    model.named_steps["classifier"].coef_[:] = np.nan

    with pytest.raises(ValueError, match="outside"):
        checked_scorer(model)
