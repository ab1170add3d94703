"""The scikit-learn baseline: feature building, encoding and a classifier in one pipeline."""

from collections.abc import Iterator

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from ..configs import ModelConfig
from .features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, build_features


def build_model(config: ModelConfig) -> Pipeline:
    """A pipeline that takes contract rows, so a saved model scores raw customer records."""
    encode = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                list(NUMERIC_FEATURES),
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
        ]
    )
    return Pipeline(
        [
            ("features", FunctionTransformer(build_features)),
            ("encode", encode),
            ("classifier", _classifier(config)),
        ]
    )


def with_features(classifier) -> Pipeline:
    """A classifier that takes model features, behind the same feature step as the baseline."""
    return Pipeline([("features", FunctionTransformer(build_features)), ("classifier", classifier)])


def _classifier(config: ModelConfig) -> LogisticRegression | HistGradientBoostingClassifier:
    if config.kind == "gradient_boosting":
        boosting = config.gradient_boosting
        return HistGradientBoostingClassifier(
            learning_rate=boosting.learning_rate,
            max_iter=boosting.max_iter,
            max_leaf_nodes=boosting.max_leaf_nodes,
            l2_regularization=boosting.l2_regularization,
            early_stopping=False,
            random_state=config.seed,
        )
    logistic = config.logistic_regression
    return LogisticRegression(C=logistic.c, max_iter=logistic.max_iter)


def fit_in_steps(
    model: Pipeline, features: pd.DataFrame, labels: pd.Series, step: int = 10
) -> Iterator[tuple[int, int]]:
    """Fit ``model``, yielding (done, total) so callers can show progress.

    Gradient boosting grows its trees ``step`` at a time (warm start gives the same trees as one
    fit); logistic regression is a single step.
    """
    classifier = model.named_steps["classifier"]
    if not isinstance(classifier, HistGradientBoostingClassifier):
        model.fit(features, labels)
        yield 1, 1
        return
    total = classifier.max_iter
    classifier.set_params(warm_start=True)
    for done in range(min(step, total), total + step, step):
        classifier.set_params(max_iter=min(done, total))
        model.fit(features, labels)
        yield min(done, total), total
