"""Read and write customer tables, models and JSON documents."""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ..core import schema

#: Dtypes of a validated table on disk (TotalCharges may be blank, read back as NaN).
TYPED_COLUMNS = dict.fromkeys(schema.COLUMNS, "string") | {
    "SeniorCitizen": "int64",
    "tenure": "int64",
    "MonthlyCharges": "float64",
    "TotalCharges": "float64",
}


def iter_raw_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A CSV as text, in chunks; nothing is parsed yet, so validation sees what the file says."""
    if not path.is_file():
        raise FileNotFoundError(f"input CSV not found: {path}")
    yield from pd.read_csv(
        path, dtype=str, keep_default_na=False, chunksize=chunk_rows, skipinitialspace=False
    )


def write_csv_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> int:
    """Write chunks to one CSV atomically (a half-written file never replaces a good one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    rows = 0
    with partial.open("w", encoding="utf-8", newline="") as handle:
        for index, chunk in enumerate(chunks):
            chunk.to_csv(handle, header=index == 0, index=False)
            rows += len(chunk)
    partial.replace(path)
    return rows


def write_table(frame: pd.DataFrame, path: Path) -> None:
    write_csv_chunks([frame], path)


def read_customers(path: Path) -> pd.DataFrame:
    """A validated (typed) customer table written by the prepare job."""
    columns = pd.read_csv(path, nrows=0).columns
    dtypes = {column: TYPED_COLUMNS.get(column, "string") for column in columns}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={"TotalCharges": [""]})


def save_model(model: Pipeline, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def load_model(path: Path) -> Pipeline:
    """Load a model saved by the train job (joblib: only load files you produced yourself)."""
    if not path.is_file():
        raise FileNotFoundError(f"no model at {path}: run the train job first")
    return joblib.load(path)


def write_json(document: dict, path: Path) -> None:
    """Sorted, indented JSON with a final newline: reruns compare byte for byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
