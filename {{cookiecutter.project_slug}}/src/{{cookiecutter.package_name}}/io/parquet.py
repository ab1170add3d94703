"""Parquet tables through pyarrow, written and read in chunks: memory stays at one chunk.

Used by io/datasets.py for every path ending in .parquet (settings.table_format: parquet).
"""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


class ParquetSink:
    """Appends one row group per chunk; every chunk is cast to the first chunk's schema."""

    def __init__(self, path: Path):
        self.path = path
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:  # nothing written: no file (a table needs its columns)
            self.writer.close()


def iter_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
        yield batch.to_pandas()


def iter_table(path: Path, chunk_rows: int, dtypes: dict[str, str]) -> Iterator[pd.DataFrame]:
    """A table in chunks, its columns in the given dtypes."""
    for chunk in iter_chunks(path, chunk_rows):
        yield _typed(chunk, dtypes)


def read_table(path: Path, dtypes: dict[str, str]) -> pd.DataFrame:
    """A whole table, its columns in the given dtypes."""
    return _typed(pq.read_table(path).to_pandas(), dtypes)


def _typed(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """Columns in the given dtypes; any column not named there is text."""
    return frame.astype({column: dtypes.get(column, "string") for column in frame.columns})
