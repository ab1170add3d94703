"""Model quality and the cost-based decision threshold, from labels and scores."""

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

THRESHOLD_GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


def lift_at(labels: np.ndarray, scores: np.ndarray, fraction: float = 0.1) -> float:
    """Churn rate among the top-scored ``fraction`` of customers over the overall churn rate."""
    count = max(1, int(np.ceil(len(scores) * fraction)))
    # A stable sort on the negated scores keeps ties in their original order: repeatable.
    top = np.argsort(-scores, kind="stable")[:count]
    base_rate = labels.mean()
    return float(labels[top].mean() / base_rate) if base_rate > 0 else 0.0


def confusion_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts of true/false positives/negatives when scores >= threshold mean 'will churn'."""
    predicted = scores >= threshold
    actual = labels == 1
    return {
        "true_positive": int(np.sum(predicted & actual)),
        "false_positive": int(np.sum(predicted & ~actual)),
        "false_negative": int(np.sum(~predicted & actual)),
        "true_negative": int(np.sum(~predicted & ~actual)),
    }


def cost_optimal_threshold(
    labels: np.ndarray,
    scores: np.ndarray,
    false_positive_cost: float,
    false_negative_cost: float,
) -> tuple[float, float]:
    """The grid threshold with the lowest average cost per customer, and that cost."""
    costs = []
    for threshold in THRESHOLD_GRID:
        counts = confusion_at(labels, scores, threshold)
        total = (
            counts["false_positive"] * false_positive_cost
            + counts["false_negative"] * false_negative_cost
        )
        costs.append(total / len(labels))
    best = int(np.argmin(costs))
    return float(THRESHOLD_GRID[best]), float(costs[best])


def classification_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    false_positive_cost: float,
    false_negative_cost: float,
    top_fraction: float = 0.1,
) -> dict[str, Any]:
    """Every headline metric of a churn model, rounded so reruns compare byte for byte."""
    threshold, cost = cost_optimal_threshold(
        labels, scores, false_positive_cost, false_negative_cost
    )
    counts = confusion_at(labels, scores, threshold)
    flagged = counts["true_positive"] + counts["false_positive"]
    return {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 6),
        "pr_auc": round(float(average_precision_score(labels, scores)), 6),
        "brier": round(float(brier_score_loss(labels, scores)), 6),
        "lift_top_decile": round(lift_at(labels, scores, top_fraction), 6),
        "churn_rate": round(float(labels.mean()), 6),
        "decision": {
            "threshold": threshold,
            "cost_per_customer": round(cost, 6),
            "precision": round(counts["true_positive"] / flagged, 6) if flagged else 0.0,
            "recall": round(counts["true_positive"] / max(1, labels.sum()), 6),
            "confusion": counts,
        },
    }
