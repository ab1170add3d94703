import numpy as np
import pytest

from {{ cookiecutter.package_name }}.core.metrics import (
    classification_metrics,
    confusion_at,
    cost_optimal_threshold,
    lift_at,
)

LABELS = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
SCORES = np.array([0.9, 0.2, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])


def test_lift_compares_top_rate_with_base_rate():
    # Top 10% is one customer, a churner: rate 1.0 against a base rate of 0.2.
    assert lift_at(LABELS, SCORES, 0.1) == pytest.approx(5.0)
    # Top 30%: scores 0.9 (churn), 0.8 (stays), 0.2 (churn) -> 2/3 against 0.2.
    assert lift_at(LABELS, SCORES, 0.3) == pytest.approx((2 / 3) / 0.2)


def test_confusion_counts_at_threshold():
    assert confusion_at(LABELS, SCORES, 0.5) == {
        "true_positive": 1,
        "false_positive": 1,
        "false_negative": 1,
        "true_negative": 7,
    }


def test_expensive_misses_push_the_threshold_down():
    # Missing a churner costs 100, a wasted offer 1: flag everyone down to the churner at 0.2.
    threshold, cost = cost_optimal_threshold(LABELS, SCORES, 1.0, 100.0)

    assert 0.1 < threshold <= 0.2
    assert cost == pytest.approx(1 * 1.0 / 10)


def test_expensive_offers_push_the_threshold_up():
    # Offers cost 100, a miss 1: flag only the top customer (0.9, a churner), not the 0.8 stayer.
    threshold, _ = cost_optimal_threshold(LABELS, SCORES, 100.0, 1.0)

    assert 0.8 < threshold <= 0.9


def test_headline_metrics_are_consistent():
    metrics = classification_metrics(LABELS, SCORES, 10.0, 100.0)

    assert 0.5 < metrics["roc_auc"] <= 1.0
    assert metrics["churn_rate"] == pytest.approx(0.2)
    assert metrics["brier"] == pytest.approx(np.mean((SCORES - LABELS) ** 2), abs=1e-6)
    assert sum(metrics["decision"]["confusion"].values()) == len(LABELS)
