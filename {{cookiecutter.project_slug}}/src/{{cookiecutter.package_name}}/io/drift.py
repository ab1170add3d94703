"""Drift adapters: read a window as a seeded sample, run Evidently, write its HTML report.

The only module of the project that imports evidently. Windows are read in chunks and only a
uniform sample of the contract's columns is kept, so a million-row table costs the memory of the
sample plus one chunk (Parquet: only the sampled rows are ever turned into pandas).
"""

import importlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.metrics import ValueDrift
from evidently.presets import DataDriftPreset

from ..core import schema
from ..core.drift import (
    CATEGORICAL_COLUMNS,
    FEATURE_COLUMNS,
    NUMERIC_COLUMNS,
    SCORE_COLUMN,
    ColumnDrift,
    DriftInputError,
    UniformSample,
    missing_columns,
)
from .datasets import is_parquet, parquet_module
{%- if cookiecutter|layer_enabled("serving") %}
from .prediction_log import read_predictions
{%- endif %}

#: Columns read when a window has them: the label (target drift) and a logged score.
OPTIONAL_COLUMNS = (schema.TARGET, SCORE_COLUMN)


@dataclass(frozen=True)
class Window:
    """A uniform sample of a window's rows, typed for comparison, and the rows it came from."""

    frame: pd.DataFrame
    rows: int


@dataclass(frozen=True)
class DriftMethods:
    numeric: str
    categorical: str
    threshold: float
    drift_share: float


def read_window(name: str, path: Path, size: int, seed: int, chunk_rows: int) -> Window:
    """A table (.parquet or .csv in the Telco schema){% if cookiecutter|layer_enabled("serving") %} or a prediction-log folder{% endif %}, sampled."""
{%- if cookiecutter|layer_enabled("serving") %}
    if path.is_dir():
        return read_prediction_window(name, path, size, seed)
{%- endif %}
    if not path.is_file():
        raise FileNotFoundError(f"{name} window not found: {path}")
    sample = UniformSample(size, seed)
    if is_parquet(path):
        _sample_parquet(name, path, sample, chunk_rows)
    else:
        _sample_csv(name, path, sample, chunk_rows)
    return Window(_typed(sample.frame(FEATURE_COLUMNS)), sample.rows)


def _sample_parquet(name: str, path: Path, sample: UniformSample, chunk_rows: int) -> None:
    try:
        parquet_module(path)  # a clear message where the scale layer (pyarrow) is absent
    except ValueError as error:
        raise DriftInputError(str(error)) from error
    pq = importlib.import_module("pyarrow.parquet")
    source = pq.ParquetFile(path)
    columns = _columns(name, source.schema_arrow.names)
    for batch in source.iter_batches(batch_size=chunk_rows, columns=columns):
        keep = sample.select(batch.num_rows)
        sample.take(batch.filter(keep).to_pandas() if keep.any() else pd.DataFrame())


def _sample_csv(name: str, path: Path, sample: UniformSample, chunk_rows: int) -> None:
    columns = _columns(name, pd.read_csv(path, nrows=0).columns)
    chunks = pd.read_csv(
        path,
        usecols=columns,
        dtype=dict.fromkeys(columns, "string"),  # numbers are parsed after sampling
        keep_default_na=False,
        chunksize=chunk_rows,
    )
    for chunk in chunks:
        sample.add(chunk)


def _columns(name: str, present) -> list[str]:
    """The contract columns to read (a missing feature fails, the label is optional)."""
    present = list(present)
    missing_columns(name, present, FEATURE_COLUMNS)
    return [*FEATURE_COLUMNS, *(column for column in OPTIONAL_COLUMNS if column in present)]
{%- if cookiecutter|layer_enabled("serving") %}


def read_prediction_window(name: str, folder: Path, size: int, seed: int) -> Window:
    """The server's prediction log: each record's features and the score it answered."""
    read = read_predictions(folder)
    try:
        rows = [{**record["features"], SCORE_COLUMN: record["score"]} for record in read.records]
    except (KeyError, TypeError) as error:
        raise DriftInputError(f"{name} window {folder}: a log record lacks {error}") from None
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=FEATURE_COLUMNS)
    missing_columns(name, frame.columns, FEATURE_COLUMNS)
    sample = UniformSample(size, seed)
    sample.add(frame[[*FEATURE_COLUMNS, SCORE_COLUMN]])
    return Window(_typed(sample.frame(FEATURE_COLUMNS)), sample.rows)
{%- endif %}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Categories as text, numbers as floats (a blank number is NaN)."""
    frame = frame.copy()
    for column in frame.columns:
        if column in NUMERIC_COLUMNS or column == SCORE_COLUMN:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        else:
            frame[column] = frame[column].astype(str).astype(object)
    return frame


@dataclass(frozen=True)
class Comparison:
    columns: dict[str, ColumnDrift]
    prediction: ColumnDrift | None
    target: ColumnDrift | None
    #: What Evidently counted itself (a cross-check of the verdict computed in core).
    evidently_drifted_count: int
    snapshot: object


def compare(reference: pd.DataFrame, current: pd.DataFrame, methods: DriftMethods) -> Comparison:
    """Evidently's data drift preset on the features, and the score and label when both sides
    hold them; methods and threshold are explicit, so a sample and the full data get one test."""
    extras = [c for c in OPTIONAL_COLUMNS if c in reference.columns and c in current.columns]
    columns = [*FEATURE_COLUMNS, *extras]
    numeric = [*NUMERIC_COLUMNS, *(c for c in extras if c == SCORE_COLUMN)]
    categorical = [*CATEGORICAL_COLUMNS, *(c for c in extras if c == schema.TARGET)]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    method = dict.fromkeys(numeric, methods.numeric)
    method |= dict.fromkeys(categorical, methods.categorical)
    report = Report(
        [
            DataDriftPreset(
                columns=list(FEATURE_COLUMNS),
                num_method=methods.numeric,
                cat_method=methods.categorical,
                threshold=methods.threshold,
                drift_share=methods.drift_share,
            ),
            *(ValueDrift(column=c, method=method[c], threshold=methods.threshold) for c in extras),
        ]
    )
    snapshot = report.run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    scores: dict[str, float] = {}
    count = 0
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            scores[config["column"]] = float(metric["value"])
        elif config["type"].endswith("DriftedColumnsCount"):
            count = int(metric["value"]["count"])
    results = {
        c: ColumnDrift(method[c], scores[c], methods.threshold) for c in columns if c in scores
    }
    return Comparison(
        columns={c: results[c] for c in FEATURE_COLUMNS},
        prediction=results.get(SCORE_COLUMN),
        target=results.get(schema.TARGET),
        evidently_drifted_count=count,
        snapshot=snapshot,
    )


def write_html(comparison: Comparison, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    comparison.snapshot.save_html(str(path))  # type: ignore[attr-defined]
