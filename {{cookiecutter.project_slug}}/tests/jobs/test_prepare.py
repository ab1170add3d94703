"""The prepare job streams: the split and the counts do not depend on the chunk size."""

import pandas as pd

from {{ cookiecutter.package_name }}.configs import (
    PipelineConfig,
    SplitConfig,
    SyntheticConfig,
    ValidationConfig,
)
from {{ cookiecutter.package_name }}.io.datasets import read_customers
from {{ cookiecutter.package_name }}.jobs import generate, prepare


def prepare_in_chunks(settings, chunk_rows: int, folder) -> set[str]:
    config = PipelineConfig(validation=ValidationConfig(chunk_rows=chunk_rows))
    test_table = folder / f"test.{settings.table_format}"
    result = prepare.run(
        settings.raw_table,
        folder / "rejected.csv",
        folder / f"train.{settings.table_format}",
        test_table,
        config.validation,
        config.split,
    )
    assert result.train_rows + result.test_rows == result.rows_valid == 2_000
    return set(read_customers(test_table)["customerID"])


def test_each_customer_lands_on_the_same_side_whatever_the_chunk_size(settings, tmp_path):
    generate.run(SyntheticConfig(rows=2_000, seed=3), settings.raw_table, progress=False)

    sides = [prepare_in_chunks(settings, rows, tmp_path / str(rows)) for rows in (97, 5_000)]

    assert sides[0] == sides[1]
    assert 0.15 < len(sides[0]) / 2_000 < 0.25  # split.test_size is 0.2


def test_the_split_is_seeded():
    ids = pd.Series([f"{number:04d}-ABCDE" for number in range(1_000)])
    first = prepare.in_test_split(ids, SplitConfig(seed=1))

    assert (first == prepare.in_test_split(ids, SplitConfig(seed=1))).all()
    assert (first != prepare.in_test_split(ids, SplitConfig(seed=2))).any()
