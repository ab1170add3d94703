"""Generate a synthetic customer CSV in the Telco schema, chunk by chunk."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..configs import SyntheticConfig
from ..core.synthetic import generate_customers
from ..io.datasets import write_table_chunks


@dataclass(frozen=True)
class GenerateResult:
    rows: int
    path: Path


def run(config: SyntheticConfig, output: Path, progress: bool = True) -> GenerateResult:
    """Write ``config.rows`` seeded customers to ``output``; memory stays at one chunk."""
    with tqdm(total=config.rows, unit="rows", desc="generate", disable=not progress) as bar:
        rows = write_table_chunks(_chunks(config, bar), output)
    return GenerateResult(rows=rows, path=output)


def _chunks(config: SyntheticConfig, bar: tqdm) -> Iterator[pd.DataFrame]:
    for index, start in enumerate(range(0, config.rows, config.chunk_rows)):
        size = min(config.chunk_rows, config.rows - start)
        # One generator per chunk, seeded by (seed, chunk): chunks are independent and repeatable.
        rng = np.random.default_rng([config.seed, index])
        yield generate_customers(size, rng, drift=config.drift, first_id=start)
        bar.update(size)
