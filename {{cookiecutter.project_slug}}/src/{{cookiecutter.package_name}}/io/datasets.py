"""Read and write customer tables (CSV, or Parquet with the scale layer), models and JSON."""

import csv
import importlib
import json
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path
from types import ModuleType

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from ..core import schema
from ..core.validation import MALFORMED, SOURCE_LINE

#: Dtypes of a validated table on disk (TotalCharges may be blank, read back as NaN).
TYPED_COLUMNS = dict.fromkeys(schema.COLUMNS, "string") | {
    "SeniorCitizen": "int64",
    "tenure": "int64",
    "MonthlyCharges": "float64",
    "TotalCharges": "float64",
}
#: Parquet tables keep their text in Arrow buffers rather than one Python object per cell,
#: which is what keeps a million-row table small in memory.
PARQUET_COLUMNS = {
    column: "string[pyarrow]" if dtype == "string" else dtype
    for column, dtype in TYPED_COLUMNS.items()
}


def iter_raw_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A table as written, in chunks: validation parses it, so it sees what the file says.

    A CSV's chunks also carry each row's line in the file (``SOURCE_LINE``) and, for a row with
    too few or too many fields, what is wrong with it (``MALFORMED``): validation quarantines
    that row with the reason instead of the whole read failing on it.
    """
    if not path.is_file():
        raise FileNotFoundError(f"input table not found: {path}")
    if is_parquet(path):
        yield from parquet_module(path).iter_chunks(path, chunk_rows)
        return
    yield from _iter_csv_text(path, chunk_rows)


def _iter_csv_text(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    # The csv module, not pandas: pandas stops at the first row with an extra field.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        width, rows, lines, malformed = len(header), [], [], []
        last_line = reader.line_num
        for fields in reader:
            line, last_line = last_line + 1, reader.line_num  # a quoted field may span lines
            if not fields:  # a blank line
                continue
            malformed.append(_malformed(fields, width))
            rows.append((fields + [""] * width)[:width])
            lines.append(line)
            if len(rows) == chunk_rows:
                yield _text_frame(rows, header, lines, malformed)
                rows, lines, malformed = [], [], []
        if rows:
            yield _text_frame(rows, header, lines, malformed)


def _malformed(fields: list[str], width: int) -> str:
    if len(fields) == width:
        return ""
    if len(fields) < width:
        return f"has {len(fields)} fields, expected {width}"
    return f"has {len(fields)} fields, expected {width} (extra: {','.join(fields[width:])!r})"


def _text_frame(
    rows: list[list[str]], header: list[str], lines: list[int], malformed: list[str]
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=header, dtype="object")
    frame[SOURCE_LINE] = lines
    frame[MALFORMED] = malformed
    return frame


class TableWriter:
    """Appends frames to one CSV or Parquet table, which appears only once complete.

    On an error the half-written file is deleted, so it never replaces a good one; with
    ``keep_on_error`` what was written is kept (a quarantine file explains a failed run).
    """

    def __init__(self, path: Path, keep_on_error: bool = False):
        self.path, self.keep_on_error, self.rows = path, keep_on_error, 0
        self.partial = path.with_name(path.name + ".partial")

    def __enter__(self) -> "TableWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if is_parquet(self.path):
            self.sink = parquet_module(self.path).ParquetSink(self.partial)
        else:
            self.sink = CsvSink(self.partial)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        self.sink.write(frame)
        self.rows += len(frame)

    def __exit__(self, error_type, *_) -> None:
        self.sink.close()
        if (error_type is None or self.keep_on_error) and self.partial.exists():
            self.partial.replace(self.path)
        else:
            self.partial.unlink(missing_ok=True)


class CsvSink:
    def __init__(self, path: Path):
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.header = True

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.handle, header=self.header, index=False)
        self.header = False

    def close(self) -> None:
        self.handle.close()


def write_table_chunks(chunks: Iterable[pd.DataFrame], path: Path) -> int:
    """Write chunks to one table atomically; returns the row count."""
    with TableWriter(path) as writer:
        for chunk in chunks:
            writer.write(chunk)
    return writer.rows


def write_table(frame: pd.DataFrame, path: Path) -> None:
    write_table_chunks([frame], path)


def read_customers(path: Path) -> pd.DataFrame:
    """A validated (typed) customer table written by the prepare job."""
    if is_parquet(path):
        return parquet_module(path).read_table(path, PARQUET_COLUMNS)
    return _read_typed_csv(path)


def iter_customers(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A validated (typed) customer table in chunks: memory stays at one chunk."""
    if is_parquet(path):
        yield from parquet_module(path).iter_table(path, chunk_rows, PARQUET_COLUMNS)
        return
    yield from _read_typed_csv(path, chunk_rows)


def _read_typed_csv(path: Path, chunk_rows: int | None = None):
    """A validated CSV in its types: the whole frame, or an iterator of ``chunk_rows`` chunks."""
    columns = pd.read_csv(path, nrows=0).columns
    dtypes: dict[Hashable, str] = {
        column: TYPED_COLUMNS.get(column, "string") for column in columns
    }
    return pd.read_csv(
        path,
        dtype=dtypes,
        keep_default_na=False,
        na_values={"TotalCharges": [""]},
        chunksize=chunk_rows,
    )


def is_parquet(path: Path) -> bool:
    return path.suffix == ".parquet"


def parquet_module(path: Path) -> ModuleType:
    """io/parquet.py, which the scale layer brings (with pyarrow)."""
    try:
        return importlib.import_module(".parquet", __package__)
    except ImportError as error:
        raise ValueError(f"{path}: Parquet tables need the project's scale layer") from error


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
