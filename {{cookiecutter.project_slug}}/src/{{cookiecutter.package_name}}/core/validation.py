"""Check raw rows against the data contract; split them into typed valid rows and rejected rows."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema

REASON = "reason"
LINE = "line"
#: Columns a reader may add to raw rows (io/datasets.py): the row's line in its source file,
#: and why the row could not be read as one (too few or too many fields), blank when it could.
SOURCE_LINE = "_source_line"
MALFORMED = "_malformed"


class SchemaError(ValueError):
    """The table as a whole breaks the contract (for example, a column is missing)."""


@dataclass(frozen=True)
class ValidationResult:
    """Rows that passed (typed) and rows that failed (as read, with a line number and reason)."""

    valid: pd.DataFrame
    rejected: pd.DataFrame


def check_columns(columns: pd.Index, require_target: bool = True) -> None:
    """Fail with the names of the contract columns the table lacks."""
    needed = schema.COLUMNS if require_target else schema.COLUMNS[:-1]
    missing = [column for column in needed if column not in columns]
    if missing:
        raise SchemaError(f"missing column(s): {', '.join(missing)}")


def validate_customers(
    raw: pd.DataFrame, first_line: int = 2, require_target: bool = True
) -> ValidationResult:
    """Validate text rows read from a CSV (``first_line`` is the file line of the first row,
    unless the reader gave each row's own, as ``SOURCE_LINE``)."""
    check_columns(raw.columns, require_target)
    columns = [c for c in schema.COLUMNS if c in raw.columns]
    text = raw[columns].astype("string").fillna("").apply(lambda col: col.str.strip())
    typed, problems = _parse_numbers(text)
    for column in schema.CATEGORIES:
        bad = ~text[column].isin(schema.CATEGORIES[column])
        problems.append(_describe(text[column], bad, "not one of the allowed values"))
    if require_target:
        bad = ~text[schema.TARGET].isin(schema.YES_NO)
        problems.append(_describe(text[schema.TARGET], bad, "must be Yes or No"))
    missing_id = text[schema.ID_COLUMN] == ""
    problems.append(_describe(text[schema.ID_COLUMN], missing_id, "is blank"))
    reasons = _join_reasons(problems, raw.index)
    if MALFORMED in raw.columns:  # its fields are misplaced: their reasons would mislead
        malformed = raw[MALFORMED].astype("object").fillna("")
        reasons = reasons.where(malformed == "", malformed)
    is_bad = reasons != ""
    rejected = raw.loc[is_bad, columns].copy()
    if SOURCE_LINE in raw.columns:
        lines = raw.loc[is_bad, SOURCE_LINE].to_numpy()
    else:
        lines = np.flatnonzero(is_bad.to_numpy()) + first_line
    rejected.insert(0, LINE, lines)
    rejected[REASON] = reasons[is_bad]
    valid = text.loc[~is_bad].copy()
    for column, values in typed.items():
        valid[column] = values[~is_bad]
    return ValidationResult(valid=valid.reset_index(drop=True), rejected=rejected)


def _parse_numbers(text: pd.DataFrame) -> tuple[dict[str, pd.Series], list[pd.Series]]:
    typed: dict[str, pd.Series] = {}
    problems: list[pd.Series] = []
    for column, (low, high, whole) in schema.NUMBERS.items():
        values = pd.to_numeric(text[column], errors="coerce")
        blank = text[column] == ""
        allowed_blank = blank & (column in schema.MAY_BE_BLANK)
        unreadable = values.isna() & ~allowed_blank
        problems.append(_describe(text[column], unreadable, "is not a number"))
        out_of_range = values.notna() & ((values < low) | (values > high))
        problems.append(_describe(text[column], out_of_range, f"is outside [{low:g}, {high:g}]"))
        if whole:
            fractional = values.notna() & (values % 1 != 0)
            problems.append(_describe(text[column], fractional, "is not a whole number"))
        typed[column] = values.astype("float64")
    typed["tenure"] = typed["tenure"].fillna(-1).astype("int64")
    typed["SeniorCitizen"] = typed["SeniorCitizen"].fillna(-1).astype("int64")
    return typed, problems


def _describe(values: pd.Series, bad: pd.Series, problem: str) -> pd.Series:
    """One reason per bad row, naming the column and quoting the value that broke the rule."""
    reasons = pd.Series("", index=values.index, dtype="object")
    if bad.any():
        quoted = values[bad].map(repr)
        reasons[bad] = f"{values.name}=" + quoted + f" {problem}"
    return reasons


def _join_reasons(problems: list[pd.Series], index: pd.Index) -> pd.Series:
    joined = pd.Series("", index=index, dtype="object")
    for reasons in problems:
        has = reasons != ""
        if has.any():
            joined[has] = np.where(
                joined[has] == "", reasons[has], joined[has] + "; " + reasons[has]
            )
    return joined
