"""The drift job: compare a current window with a reference window and write the verdict.

Writes ``<out>/report.html`` (Evidently's report) and ``<out>/summary.json``. Exit codes of the
`drift` command: 0 no dataset drift, 3 dataset drift found, 2 bad input (a missing column, fewer
than ``monitoring.min_rows`` rows in a window, a file that is not there).

Both windows are read as a seeded uniform sample of ``monitoring.sample_rows`` rows, so a
million-row window costs seconds. When the model file exists, the reference sample is scored
with it (and a table window without logged scores too): that gives prediction drift.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..configs import MonitoringConfig
from ..core.drift import (
    FEATURE_COLUMNS,
    SCORE_COLUMN,
    check_rows,
    describe,
    exit_code,
    summarize,
)
from ..io.datasets import load_model, write_json
from ..io.drift import DriftMethods, Window, compare, load_evidently, read_window, write_html
{%- if cookiecutter|layer_enabled("tracking") %}
from ..settings import Settings
{%- endif %}


@dataclass(frozen=True)
class DriftResult:
    summary: dict
    report: Path
    summary_json: Path
    #: Evidently's own count of drifted feature columns (equals the summary's).
    evidently_drifted_count: int

    @property
    def exit_code(self) -> int:
        return exit_code(self.summary)

    def lines(self) -> list[str]:
        return [*describe(self.summary), f"report: {self.report}", f"summary: {self.summary_json}"]


def run(
    config: MonitoringConfig,
    reference: Path,
    current: Path,
    out: Path,
    model_file: Path | None = None,
) -> DriftResult:
    """Sample both windows, compare them with Evidently, write the report and the summary."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Evidently's import is seconds of bytecode; pyarrow decodes the windows meanwhile with
        # the GIL released, so part of the reading is free (about 0.2 s of 7 on two cores).
        evidently = pool.submit(load_evidently)
        windows = {}
        for name, path in (("reference", reference), ("current", current)):
            window = read_window(name, path, config.sample_rows, config.seed, config.chunk_rows)
            check_rows(name, window.rows, config.min_rows)
            windows[name] = window
        evidently.result()
    ref, cur = _with_scores(windows["reference"], windows["current"], model_file)
    methods = DriftMethods(
        config.numeric_method, config.categorical_method, config.threshold, config.drift_share
    )
    comparison = compare(ref, cur, methods)
    rows = {
        "reference_rows": windows["reference"].rows,
        "current_rows": windows["current"].rows,
        "sampled_reference_rows": len(ref),
        "sampled_current_rows": len(cur),
    }
    summary = summarize(
        comparison.columns, config.drift_share, rows, comparison.prediction, comparison.target
    )
    report, summary_json = out / "report.html", out / "summary.json"
    write_html(comparison, report)
    write_json(summary, summary_json)
    return DriftResult(summary, report, summary_json, comparison.evidently_drifted_count)


def _with_scores(
    reference: Window, current: Window, model_file: Path | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both samples with the model's scores where they can be had, else without any."""
    ref, cur = reference.frame, current.frame
    if model_file is None or not model_file.is_file():
        return ref, cur.drop(columns=[SCORE_COLUMN], errors="ignore")
    model = load_model(model_file)
    ref = ref.assign(**{SCORE_COLUMN: _score(model, ref)})
    if SCORE_COLUMN not in cur.columns:  # a table: score it; a prediction log has its scores
        cur = cur.assign(**{SCORE_COLUMN: _score(model, cur)})
    return ref, cur


def _score(model, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(frame[list(FEATURE_COLUMNS)])[:, 1]
{%- if cookiecutter|layer_enabled("tracking") %}


def log(settings: Settings, result: DriftResult) -> str:
    """Log the report, the summary and the verdict's metrics to MLflow; the run id."""
    from ..io.tracking import log_drift  # mlflow loads only when the run is logged

    return log_drift(settings, result.summary, [result.report, result.summary_json])
{%- endif %}
