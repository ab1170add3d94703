"""The raw table the pipeline starts from: your CSV, else seeded synthetic customers.

Your CSV is copied as it is (a CSV table), or converted to Parquet chunk by chunk (the scale
layer's table format: memory stays at one chunk). Either way its rows arrive as written:
`prepare` validates them and quarantines the bad ones with reasons.
"""

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..configs import SyntheticConfig
from ..io.datasets import is_parquet, iter_raw_chunks, write_table_chunks
from . import generate


@dataclass(frozen=True)
class IngestResult:
    path: Path
    #: Your CSV, or None for synthetic customers.
    source: Path | None
    #: Rows written; None for a CSV copied as it is (prepare counts its rows).
    rows: int | None

    def summary(self) -> str:
        if self.source is None:
            return f"wrote {self.rows:,} synthetic rows to {self.path}"
        if self.rows is None:
            return f"copied {self.source} to {self.path}"
        return f"converted {self.rows:,} rows of {self.source} to {self.path}"


def run(
    source: Path | None,
    synthetic: SyntheticConfig,
    raw_table: Path,
    chunk_rows: int,
    progress: bool = True,
) -> IngestResult:
    """``source`` (or ``synthetic`` customers, when None) as the raw table ``raw_table``."""
    if source is None:
        return IngestResult(raw_table, None, generate.run(synthetic, raw_table, progress).rows)
    if not source.is_file():
        raise FileNotFoundError(f"input CSV not found: {source}")
    if not is_parquet(raw_table):
        partial = raw_table.with_name(raw_table.name + ".partial")
        raw_table.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, partial)
        partial.replace(raw_table)  # never a half-copied table
        return IngestResult(raw_table, source, None)
    with tqdm(unit="rows", desc=f"ingest {source.name}", disable=not progress) as bar:
        rows = write_table_chunks(_counted(iter_raw_chunks(source, chunk_rows), bar), raw_table)
    return IngestResult(raw_table, source, rows)


def _counted(chunks: Iterable[pd.DataFrame], bar: tqdm) -> Iterator[pd.DataFrame]:
    for chunk in chunks:
        yield chunk
        bar.update(len(chunk))
