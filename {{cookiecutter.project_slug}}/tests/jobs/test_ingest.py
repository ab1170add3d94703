"""The raw table the pipeline starts from: synthetic customers, or the user's CSV as written."""

import pytest

from {{ cookiecutter.package_name }}.jobs import ingest


def test_without_a_csv_the_raw_table_is_synthetic(settings, small_config):
    result = ingest.run(None, small_config.synthetic, settings.raw_table, 1_000, progress=False)

    assert result.rows == small_config.synthetic.rows
    assert result.path == settings.raw_table
    assert "synthetic rows" in result.summary()


def test_a_csv_table_is_the_users_file_byte_for_byte(settings, small_config, user_csv, tmp_path):
    raw = tmp_path / "raw" / "customers.csv"

    result = ingest.run(user_csv, small_config.synthetic, raw, 1_000, progress=False)

    assert raw.read_bytes() == user_csv.read_bytes()  # malformed rows too: prepare rejects them
    assert result.summary() == f"copied {user_csv} to {raw}"
    assert not raw.with_name("customers.csv.partial").exists()


def test_a_missing_csv_names_its_path(settings, small_config, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"input CSV not found: .*nope\.csv"):
        ingest.run(tmp_path / "nope.csv", small_config.synthetic, settings.raw_table, 10)
