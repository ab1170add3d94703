"""PNG plots of model quality, for people who would rather look than read."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve


def _save(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
    return path


def plot_roc(labels: np.ndarray, scores: np.ndarray, roc_auc: float, path: Path) -> Path:
    false_rate, true_rate, _ = roc_curve(labels, scores)
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(false_rate, true_rate, label=f"model (ROC-AUC {roc_auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    axes.legend(loc="lower right")
    return _save(figure, path)


def plot_calibration(labels: np.ndarray, scores: np.ndarray, path: Path) -> Path:
    observed, predicted = calibration_curve(labels, scores, n_bins=10, strategy="quantile")
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(predicted, observed, marker="o", label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.set(xlabel="predicted churn probability", ylabel="observed churn rate")
    axes.set_title("Calibration (deciles of score)")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_confusion(confusion: dict[str, int], threshold: float, path: Path) -> Path:
    grid = np.array(
        [
            [confusion["true_negative"], confusion["false_positive"]],
            [confusion["false_negative"], confusion["true_positive"]],
        ]
    )
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(grid, cmap="Blues")
    for (row, column), count in np.ndenumerate(grid):
        colour = "white" if count > grid.max() / 2 else "black"
        axes.text(column, row, f"{count:,}", ha="center", va="center", color=colour)
    axes.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual")
    axes.set_xticklabels(["stays", "churns"])
    axes.set_yticklabels(["stays", "churns"])
    axes.set_title(f"Confusion at cost-optimal threshold {threshold:.2f}")
    return _save(figure, path)


def plot_importance(importance: pd.Series, path: Path) -> Path:
    ordered = importance.sort_values()
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(ordered) + 1.2))
    axes.barh(ordered.index, ordered.to_numpy(), color="tab:blue")
    axes.set(xlabel="drop in ROC-AUC when the column is shuffled", title="Feature importance")
    return _save(figure, path)
