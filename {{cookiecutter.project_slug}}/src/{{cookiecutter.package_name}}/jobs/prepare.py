"""Validate raw customers at the boundary, quarantine bad rows, and split train/test.

The source streams through in chunks (``validation.chunk_rows``): memory stays at one chunk
whether the table has ten thousand rows or ten million.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..configs import SplitConfig, ValidationConfig
from ..core import schema
from ..core.validation import validate_customers
from ..io.datasets import TableWriter, iter_raw_chunks

#: Resolution of the split: a row is in the test set when its hash bucket is below the share.
BUCKETS = 1_000_000


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
    train_table: Path,
    test_table: Path,
    validation: ValidationConfig,
    split: SplitConfig,
) -> PrepareResult:
    """Valid rows of ``source`` go to train or test, bad rows (with reasons) to ``quarantine``."""
    rows_read = 0
    # The quarantine file is written even when the run stops: it says why.
    with (
        TableWriter(quarantine, keep_on_error=True) as rejected,
        TableWriter(train_table) as train,
        TableWriter(test_table) as test,
    ):
        for chunk in iter_raw_chunks(source, validation.chunk_rows):
            # Line numbers count the header as line 1, as an editor shows them.
            result = validate_customers(chunk, first_line=rows_read + 2)
            rejected.write(result.rejected)
            in_test = in_test_split(result.valid[schema.ID_COLUMN], split)
            train.write(result.valid[~in_test])
            test.write(result.valid[in_test])
            rows_read += len(chunk)
        _check_rejected_share(source, rows_read, rejected.rows, quarantine, validation)
    return PrepareResult(
        rows_read=rows_read,
        rows_valid=train.rows + test.rows,
        rows_rejected=rejected.rows,
        quarantine=quarantine,
        train_rows=train.rows,
        test_rows=test.rows,
    )


def in_test_split(customer_ids: pd.Series, config: SplitConfig) -> np.ndarray:
    """Each customer's side of the split, from a seeded hash of its id.

    The same customer always lands on the same side, whatever the chunk size, the file order
    or the number of rows, so the split streams and a customer never leaks into both sides.
    """
    salted = customer_ids.astype(str) + f"|{config.seed}"
    buckets = pd.util.hash_pandas_object(salted, index=False).to_numpy() % BUCKETS
    return buckets < config.test_size * BUCKETS


def _check_rejected_share(
    source: Path, rows_read: int, rows_rejected: int, quarantine: Path, config: ValidationConfig
) -> None:
    if rows_read == 0:
        raise DataContractError(f"{source} has no rows")
    share = rows_rejected / rows_read
    if rows_rejected == rows_read or share > config.max_rejected_share:
        raise DataContractError(
            f"{rows_rejected:,} of {rows_read:,} rows ({share:.1%}) broke the data contract, "
            f"above validation.max_rejected_share={config.max_rejected_share:.1%}; "
            f"the rows and reasons are in {quarantine}"
        )
