"""The PyTorch model's pure parts: encoder, network and the classifier that scores on the CPU."""

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from {{ cookiecutter.package_name }}.core.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    build_features,
)
from {{ cookiecutter.package_name }}.core.tabular_net import (
    TabularEncoder,
    TabularNet,
    TabularNetClassifier,
)
from {{ cookiecutter.package_name }}.core.validation import validate_customers


@pytest.fixture
def features(customers: pd.DataFrame) -> pd.DataFrame:
    return build_features(validate_customers(customers).valid)


def untrained(features: pd.DataFrame) -> TabularNetClassifier:
    torch.manual_seed(0)
    encoder = TabularEncoder.fit([features])
    net = TabularNet(encoder.cardinalities, len(NUMERIC_FEATURES), (16,), 0.0)
    return TabularNetClassifier.from_trained(encoder, net, (16,), 0.0, history=[])


def test_unseen_categories_map_to_zero_and_blanks_to_the_median(features):
    encoder = TabularEncoder.fit([features])
    odd = features.head(1).copy()
    odd["Contract"] = "Three year"
    odd["TotalCharges"] = np.nan

    categories, numbers = encoder.transform(odd)

    assert categories[0, list(CATEGORICAL_FEATURES).index("Contract")] == 0
    assert numbers[0, list(NUMERIC_FEATURES).index("TotalCharges")] == pytest.approx(0.0)
    assert encoder.cardinalities[list(CATEGORICAL_FEATURES).index("gender")] == 3


def test_the_network_gives_one_logit_per_row(features):
    encoder = TabularEncoder.fit([features])
    categories, numbers = encoder.transform(features)
    net = TabularNet(encoder.cardinalities, numbers.shape[1], (32, 16), 0.1)

    logits = net(torch.from_numpy(categories), torch.from_numpy(numbers))

    assert logits.shape == (len(features),)


def test_the_classifier_scores_like_a_scikit_learn_one(features):
    probabilities = untrained(features).predict_proba(features)

    assert probabilities.shape == (len(features), 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_a_saved_classifier_scores_the_same_and_holds_no_torch_objects(features, tmp_path):
    model = untrained(features)
    before = model.predict_proba(features)  # builds (and caches) the torch module
    joblib.dump(model, tmp_path / "model.joblib")

    loaded = joblib.load(tmp_path / "model.joblib")

    assert "_net" not in loaded.__dict__
    assert all(isinstance(v, np.ndarray) for v in loaded.weights_.values())
    assert np.array_equal(loaded.predict_proba(features), before)
    assert loaded.weights_digest() == model.weights_digest()
