import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.validation import SOURCE_LINE, validate_customers
from {{ cookiecutter.package_name }}.io.datasets import (
    iter_raw_chunks,
    read_customers,
    write_table,
    write_table_chunks,
)


def test_validated_table_round_trips_with_blank_total_charges(tmp_path, customers):
    customers.loc[0, ["tenure", "TotalCharges"]] = ["0", " "]
    valid = validate_customers(customers).valid
    path = tmp_path / "valid.csv"

    write_table(valid, path)
    again = read_customers(path)

    assert pd.isna(again.loc[0, "TotalCharges"])
    pd.testing.assert_frame_equal(again, valid, check_dtype=False)
    assert again["tenure"].dtype == "int64"


def test_raw_chunks_keep_text_exactly_as_written(tmp_path, customers):
    path = tmp_path / "raw.csv"
    customers.loc[0, "TotalCharges"] = " "
    write_table(customers, path)

    chunks = list(iter_raw_chunks(path, chunk_rows=200))

    assert [len(chunk) for chunk in chunks] == [200, 200, 100]
    assert chunks[0].loc[0, "TotalCharges"] == " "


def test_a_row_with_the_wrong_field_count_is_marked_with_its_line(tmp_path, customers):
    header, *rows = customers.head(4).to_csv(index=False).splitlines()
    rows[0] = rows[0].replace("Yes", '"Yes\nstill yes"', 1)  # a quoted field over two lines
    rows[1] += ",surplus"
    rows[2] = ",".join(rows[2].split(",")[:3])
    path = tmp_path / "raw.csv"
    path.write_text("\n".join([header, *rows[:2], "", *rows[2:]]) + "\n")  # and a blank line

    (chunk,) = iter_raw_chunks(path, chunk_rows=10)
    result = validate_customers(chunk)

    assert chunk[SOURCE_LINE].tolist() == [2, 4, 6, 7]
    assert result.rejected["line"].tolist() == [2, 4, 6]
    assert result.rejected["reason"].tolist()[1:] == [
        "has 22 fields, expected 21 (extra: 'surplus')",
        "has 3 fields, expected 21",
    ]
    assert chunk.loc[2, "customerID"] == customers.loc[2, "customerID"]  # padded, not lost


def test_a_failed_write_never_replaces_the_good_file(tmp_path, customers):
    path = tmp_path / "out.csv"
    write_table(customers, path)

    def broken_chunks():
        yield customers.head(3)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_table_chunks(broken_chunks(), path)

    assert len(pd.read_csv(path)) == len(customers)


def test_missing_input_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        next(iter_raw_chunks(tmp_path / "nope.csv", 10))
