"""Score the test split, write the metrics JSON and the plots."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from ..configs import EvaluationConfig
from ..core.features import churn_labels
from ..core.metrics import classification_metrics
from ..core.schema import INPUT_COLUMNS
from ..io import plots
from ..io.datasets import iter_customers, load_model, write_json

#: Rows scored at once: the test table never has to fit in memory.
SCORE_CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class EvaluateResult:
    metrics: dict
    metrics_json: Path
    figures: list[Path]


def run(
    config: EvaluationConfig,
    model_file: Path,
    test_table: Path,
    metrics_json: Path,
    figures_dir: Path,
    extra: dict | None = None,
) -> EvaluateResult:
    """Evaluate ``model_file`` on ``test_table``; ``extra`` is stored beside the metrics."""
    model = load_model(model_file)
    labels, scores, sample = _score(model, test_table, config.importance_rows)
    metrics = classification_metrics(
        labels, scores, config.false_positive_cost, config.false_negative_cost, config.top_fraction
    )
    importance = _importance(model, sample, labels[: len(sample)], config)
    metrics["feature_importance"] = {name: round(float(v), 6) for name, v in importance.items()}
    write_json({**metrics, **(extra or {})}, metrics_json)
    figures = [
        plots.plot_roc(labels, scores, metrics["roc_auc"], figures_dir / "roc.png"),
        plots.plot_calibration(labels, scores, figures_dir / "calibration.png"),
        plots.plot_confusion(
            metrics["decision"]["confusion"],
            metrics["decision"]["threshold"],
            figures_dir / "confusion_matrix.png",
        ),
        plots.plot_importance(importance, figures_dir / "feature_importance.png"),
    ]
    return EvaluateResult(metrics=metrics, metrics_json=metrics_json, figures=figures)


def _score(
    model, test_table: Path, sample_rows: int
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Labels and churn scores of the whole table, read in chunks; its first rows as a sample."""
    labels: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    sample: list[pd.DataFrame] = []
    for chunk in iter_customers(test_table, SCORE_CHUNK_ROWS):
        features = chunk[list(INPUT_COLUMNS)]
        labels.append(churn_labels(chunk).to_numpy())
        scores.append(model.predict_proba(features)[:, 1])
        if sum(len(part) for part in sample) < sample_rows:
            sample.append(features)
    if not labels:
        raise ValueError(f"{test_table} has no rows to evaluate")
    first_rows = pd.concat(sample).head(sample_rows).reset_index(drop=True)
    return np.concatenate(labels), np.concatenate(scores), first_rows


def _importance(
    model, features: pd.DataFrame, labels: np.ndarray, config: EvaluationConfig
) -> pd.Series:
    """Permutation importance on raw columns: works for every model kind, names stay readable."""
    rows = min(config.importance_rows, len(features))
    result = permutation_importance(
        model,
        features.iloc[:rows],
        labels[:rows],
        scoring="roc_auc",
        n_repeats=config.importance_repeats,
        random_state=0,
    )
    return pd.Series(result.importances_mean, index=features.columns).sort_values(ascending=False)
