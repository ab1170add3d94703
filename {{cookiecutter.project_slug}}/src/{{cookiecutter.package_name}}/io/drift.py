"""Drift adapters: read a window as a seeded sample, run Evidently, write its HTML report.

The only module of the project that imports evidently, and only in ``load_evidently`` (which
``compare`` calls): the drift job reads the windows while another thread imports it. Windows
are read in chunks and only a uniform sample of the contract's columns is kept, so a
million-row table costs the memory of the sample plus one chunk (Parquet: only the sampled
rows are ever turned into pandas).
"""

import gc
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
    sample_positions,
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
    if is_parquet(path):
        return _sample_parquet(name, path, size, seed, chunk_rows)
    sample = UniformSample(size, seed)
    _sample_csv(name, path, sample, chunk_rows)
    return Window(_typed(sample.frame(FEATURE_COLUMNS)), sample.rows)


def _sample_parquet(name: str, path: Path, size: int, seed: int, chunk_rows: int) -> Window:
    """The rows ``UniformSample`` would keep, picked by position (Parquet knows its row count).

    Text columns are decoded as Arrow dictionaries (codes, no string per row) and only the
    sampled rows of each batch reach pandas, as categories.
    """
    try:
        parquet_module(path)  # a clear message where the scale layer (pyarrow) is absent
    except ValueError as error:
        raise DriftInputError(str(error)) from error
    pa = importlib.import_module("pyarrow")
    pq = importlib.import_module("pyarrow.parquet")
    columns = _columns(name, pq.read_schema(path).names)
    text = [column for column in columns if column not in NUMERIC_COLUMNS]
    source = pq.ParquetFile(path, read_dictionary=text)
    rows = source.metadata.num_rows
    positions = sample_positions(rows, size, seed)
    batches, start = [], 0
    for batch in source.iter_batches(batch_size=chunk_rows, columns=columns):
        first, end = np.searchsorted(positions, [start, start + batch.num_rows])
        batches.append(batch.take(pa.array(positions[first:end] - start)))
        start += batch.num_rows
    frame = pa.Table.from_batches(batches).to_pandas() if batches else pd.DataFrame(columns=columns)
    return Window(_typed(frame), rows)


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
    """Numbers as floats (a blank number is NaN), text as pandas categories of strings."""
    frame = frame.copy()
    for column in frame.columns:
        if column in NUMERIC_COLUMNS or column == SCORE_COLUMN:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        else:
            frame[column] = _text(frame[column])
    return frame


def _text(values: pd.Series) -> pd.Series:
    """Categories of the strings present; a missing value becomes "nan", as ``astype(str)``."""
    if isinstance(values.dtype, pd.CategoricalDtype) and not values.hasnans:
        # A Parquet batch's dictionary holds values that the sampled rows may lack.
        present = values.cat.remove_unused_categories()
        return present.cat.rename_categories(present.cat.categories.astype(str))
    return values.astype(str).astype("category")


def _shared_categories(
    reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both windows' text columns with one set of categories (the union, sorted).

    Evidently then counts category codes instead of hashing a string per row: its run takes
    about half the time, with the same statistics.
    """
    reference, current = reference.copy(), current.copy()
    for column in reference.columns:
        if isinstance(reference[column].dtype, pd.CategoricalDtype) and column in current:
            values = set(reference[column].cat.categories) | set(current[column].cat.categories)
            dtype = pd.CategoricalDtype(sorted(values))
            reference[column] = reference[column].astype(dtype)
            current[column] = current[column].astype(dtype)
    return reference, current


@dataclass(frozen=True)
class Comparison:
    columns: dict[str, ColumnDrift]
    prediction: ColumnDrift | None
    target: ColumnDrift | None
    #: What Evidently counted itself (a cross-check of the verdict computed in core).
    evidently_drifted_count: int
    snapshot: object


def load_evidently() -> None:
    """Import Evidently (seconds: it loads all of itself, UI and LLM parts included).

    The import creates about 175,000 lasting objects and frees few, so the garbage collector is
    off meanwhile (it spent a fifth of the import walking them). Then it freezes what exists
    (mostly those modules, alive until exit anyway): no later full collection walks them again,
    the interpreter's last one at exit included, which otherwise takes over a second.
    """
    if "evidently" in sys.modules:
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        importlib.import_module("evidently")
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def compare(reference: pd.DataFrame, current: pd.DataFrame, methods: DriftMethods) -> Comparison:
    """Evidently's data drift preset on the features, and the score and label when both sides
    hold them; methods and threshold are explicit, so a sample and the full data get one test."""
    load_evidently()
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    reference, current = _shared_categories(reference, current)
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
