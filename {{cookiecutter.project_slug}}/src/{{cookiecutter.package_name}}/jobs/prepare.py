"""Validate raw customers at the boundary, quarantine bad rows, and split train/test."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ..configs import SplitConfig, ValidationConfig
from ..core import schema
from ..core.validation import validate_customers
from ..io.datasets import iter_raw_chunks, write_table


class DataContractError(RuntimeError):
    """Too many rows broke the data contract to trust a model trained on the rest."""


@dataclass(frozen=True)
class PrepareResult:
    rows_read: int
    rows_valid: int
    rows_rejected: int
    quarantine: Path
    train_rows: int
    test_rows: int


def run(
    source: Path,
    quarantine: Path,
    train_csv: Path,
    test_csv: Path,
    validation: ValidationConfig,
    split: SplitConfig,
) -> PrepareResult:
    """Read ``source`` in chunks; good rows are split, bad rows land in ``quarantine``."""
    valid, rejected, rows_read = _validate_source(source, validation.chunk_rows)
    # The quarantine file is always written, so an empty one proves the check ran.
    write_table(rejected, quarantine)
    _check_rejected_share(rows_read, len(rejected), quarantine, validation)
    train, test = _split(valid, split)
    write_table(train, train_csv)
    write_table(test, test_csv)
    return PrepareResult(
        rows_read=rows_read,
        rows_valid=len(valid),
        rows_rejected=len(rejected),
        quarantine=quarantine,
        train_rows=len(train),
        test_rows=len(test),
    )


def _validate_source(source: Path, chunk_rows: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    valid, rejected, rows_read = [], [], 0
    for chunk in iter_raw_chunks(source, chunk_rows):
        # Line numbers count the header as line 1, as an editor shows them.
        result = validate_customers(chunk, first_line=rows_read + 2)
        valid.append(result.valid)
        rejected.append(result.rejected)
        rows_read += len(chunk)
    if not valid:
        raise DataContractError(f"{source} has no rows")
    return pd.concat(valid, ignore_index=True), pd.concat(rejected, ignore_index=True), rows_read


def _check_rejected_share(
    rows_read: int, rows_rejected: int, quarantine: Path, config: ValidationConfig
) -> None:
    share = rows_rejected / rows_read
    if rows_rejected == rows_read or share > config.max_rejected_share:
        raise DataContractError(
            f"{rows_rejected:,} of {rows_read:,} rows ({share:.1%}) broke the data contract, "
            f"above validation.max_rejected_share={config.max_rejected_share:.1%}; "
            f"the rows and reasons are in {quarantine}"
        )


def _split(valid: pd.DataFrame, config: SplitConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    labels = valid[schema.TARGET]
    stratify = labels if labels.value_counts().min() >= 2 else None
    train, test = train_test_split(
        valid, test_size=config.test_size, random_state=config.seed, stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
