"""Parquet tables (the scale layer): typed round trips, chunked reads, the same results as CSV."""

import json

import pandas as pd
import pyarrow.parquet as pq

from {{ cookiecutter.package_name }}.configs import (
    PipelineConfig,
    SplitConfig,
    SyntheticConfig,
    ValidationConfig,
)
from {{ cookiecutter.package_name }}.core.validation import validate_customers
from {{ cookiecutter.package_name }}.io.datasets import (
    TableWriter,
    iter_raw_chunks,
    read_customers,
    write_table,
)
from {{ cookiecutter.package_name }}.jobs import ingest, pipeline, prepare


def test_a_validated_table_round_trips_with_its_types(tmp_path, customers):
    customers.loc[0, ["tenure", "TotalCharges"]] = ["0", " "]
    valid = validate_customers(customers).valid
    path = tmp_path / "valid.parquet"

    write_table(valid, path)
    again = read_customers(path)

    pd.testing.assert_frame_equal(again, valid, check_dtype=False)
    assert pd.isna(again.loc[0, "TotalCharges"])
    assert again["tenure"].dtype == "int64"
    assert again["Contract"].dtype == "string"


def test_raw_rows_are_read_in_chunks_as_written(tmp_path, customers):
    path = tmp_path / "raw.parquet"
    write_table(customers, path)

    chunks = list(iter_raw_chunks(path, chunk_rows=200))

    assert [len(chunk) for chunk in chunks] == [200, 200, 100]
    assert validate_customers(pd.concat(chunks)).rejected.empty


def test_chunks_after_the_first_take_its_schema(tmp_path, customers):
    valid = validate_customers(customers).valid
    path = tmp_path / "table.parquet"

    with TableWriter(path) as writer:
        writer.write(valid.head(0))  # an empty chunk first, as a clean quarantine gives
        writer.write(valid)

    assert len(read_customers(path)) == len(valid)


def test_parquet_and_csv_runs_give_identical_metrics(tmp_path, settings):
    config = PipelineConfig(
        synthetic=SyntheticConfig(rows=3_000, seed=5, chunk_rows=700),
        validation=ValidationConfig(chunk_rows=500),
    )
    metrics = {}
    for table_format in ("csv", "parquet"):
        run_settings = settings.model_copy(
            update={"table_format": table_format, "data_dir": tmp_path / table_format}
        )
        result = pipeline.run(run_settings, config, progress=False)
        assert result is not None
        metrics[table_format] = json.loads(result.evaluated.metrics_json.read_text())
        assert result.prepared.train_rows + result.prepared.test_rows == 3_000

    assert metrics["parquet"] == metrics["csv"]


def test_a_users_csv_becomes_parquet_in_chunks_and_keeps_its_bad_rows(tmp_path, user_csv):
    """The DVC pipeline's ingest stage with the scale layer: what prepare then quarantines is
    what the CSV said, at the CSV's lines."""
    raw, synthetic = tmp_path / "raw" / "customers.parquet", SyntheticConfig()

    ingested = ingest.run(user_csv, synthetic, raw, chunk_rows=700, progress=False)
    result = prepare.run(
        raw,
        tmp_path / "rejected.csv",
        tmp_path / "train.parquet",
        tmp_path / "test.parquet",
        ValidationConfig(chunk_rows=500),
        SplitConfig(),
    )

    assert ingested.rows == 3_000
    assert pq.ParquetFile(raw).num_row_groups == 5  # 700-row chunks: memory stays at one
    assert (result.rows_read, result.rows_rejected) == (3_000, 7)
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str, keep_default_na=False)
    assert rejected["line"].astype(int).tolist() == [12, 22, 32, 42, 52, 62, 72]
    assert rejected["reason"].iloc[-1] == "has 10 fields, expected 21"
