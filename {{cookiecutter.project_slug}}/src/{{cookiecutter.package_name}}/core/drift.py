"""Drift logic without files or libraries: a seeded uniform sample of a stream of chunks, which
columns a window needs, and the verdict (dataset drift, share, exit code) from per-column results.

The statistics themselves come from Evidently (io/drift.py); the methods here are distances
(Wasserstein, Jensen-Shannon ...), so a column drifts when its score reaches the threshold.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema

#: Exit codes of the drift command: no dataset drift, bad input, dataset drift found.
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_DRIFT = 3
#: The model's churn probability, as the prediction log records it.
SCORE_COLUMN = "score"
NUMERIC_COLUMNS: tuple[str, ...] = tuple(schema.NUMBERS)
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(schema.CATEGORIES)
#: The columns compared for dataset drift: what the model sees.
FEATURE_COLUMNS: tuple[str, ...] = schema.INPUT_COLUMNS


class DriftInputError(ValueError):
    """A window cannot be compared: a column is missing or it holds too few rows."""


class UniformSample:
    """A seeded uniform sample of ``size`` rows from chunks of any size (``size`` 0: all rows).

    Every row gets a random key; the sample is the ``size`` rows with the smallest keys (a
    "bottom-k" reservoir), so each subset of ``size`` rows is equally likely whatever the chunk
    sizes, and the same seed and chunks give the same rows. Memory stays at the sample plus one
    chunk: rows whose key cannot enter the sample are dropped before any copy.
    """

    def __init__(self, size: int, seed: int):
        if size < 0:
            raise ValueError(f"sample size must be >= 0, got {size}")
        self.size, self.rng = size, np.random.default_rng(seed)
        self.rows = 0
        self._parts: list[pd.DataFrame] = []
        self._keys = np.empty(0)
        self._pending = np.empty(0)

    def add(self, chunk: pd.DataFrame) -> None:
        self.take(chunk[self.select(len(chunk))])

    def select(self, rows: int) -> np.ndarray:
        """Draw the keys of the next ``rows`` rows; True where a row may enter the sample.

        Pass exactly those rows to ``take`` next: a reader can then convert only them.
        """
        self.rows += rows
        if self.size == 0:
            self._pending = np.zeros(rows)
            return np.ones(rows, dtype=bool)
        keys = self.rng.random(rows)
        if len(self._keys) >= self.size:  # full: only keys below the current largest can enter
            keep = keys < self._keys.max()
        else:
            keep = np.ones(rows, dtype=bool)
        self._pending = keys[keep]
        return keep

    def take(self, rows: pd.DataFrame) -> None:
        """Merge the rows ``select`` let through (in their order) into the sample."""
        keys, self._pending = self._pending, np.empty(0)
        if len(rows) != len(keys):
            raise ValueError(f"take() got {len(rows)} rows, select() let {len(keys)} through")
        if not len(rows):
            return
        if self.size == 0:
            self._parts.append(rows.reset_index(drop=True))
            return
        frame = pd.concat([*self._parts, rows], ignore_index=True)
        all_keys = np.concatenate([self._keys, keys])
        if len(all_keys) > self.size:
            chosen = np.sort(np.argpartition(all_keys, self.size - 1)[: self.size])
            frame, all_keys = frame.iloc[chosen].reset_index(drop=True), all_keys[chosen]
        self._parts, self._keys = [frame], all_keys

    def extend(self, chunks: Iterable[pd.DataFrame]) -> "UniformSample":
        for chunk in chunks:
            self.add(chunk)
        return self

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        """The sampled rows (all rows when ``size`` is 0), in the order they were read."""
        if not self._parts:
            return pd.DataFrame(columns=list(columns))
        return pd.concat(self._parts, ignore_index=True)


#: Keys drawn at a time by ``sample_positions``: its memory stays bounded whatever the row count.
KEY_CHUNK_ROWS = 1 << 20


def sample_positions(rows: int, size: int, seed: int) -> np.ndarray:
    """The positions, ascending, of the rows ``UniformSample(size, seed)`` keeps of ``rows`` rows.

    It draws the same keys in the same order, without the rows: a reader that knows its row
    count up front (Parquet's metadata) then converts only the sampled rows.
    """
    if size < 0:
        raise ValueError(f"sample size must be >= 0, got {size}")
    if size == 0 or rows <= size:
        return np.arange(rows)
    rng = np.random.default_rng(seed)
    keys, positions = np.empty(0), np.empty(0, dtype=np.int64)
    for start in range(0, rows, KEY_CHUNK_ROWS):
        drawn = rng.random(min(KEY_CHUNK_ROWS, rows - start))
        keys = np.concatenate([keys, drawn])
        positions = np.concatenate([positions, np.arange(start, start + len(drawn))])
        if len(keys) > size:
            smallest = np.argpartition(keys, size - 1)[:size]
            keys, positions = keys[smallest], positions[smallest]
    return np.sort(positions)


def missing_columns(window: str, columns: Iterable[str], required: Sequence[str]) -> None:
    """Raise naming the first required columns a window lacks."""
    present = set(columns)
    if missing := [column for column in required if column not in present]:
        raise DriftInputError(f"{window} window has no column {', '.join(map(repr, missing))}")


def check_rows(window: str, rows: int, min_rows: int) -> None:
    if rows < min_rows:
        raise DriftInputError(
            f"{window} window has {rows:,} rows, fewer than the minimum of {min_rows:,} "
            "(monitoring.min_rows)"
        )


@dataclass(frozen=True)
class ColumnDrift:
    method: str
    score: float
    threshold: float

    @property
    def drifted(self) -> bool:
        """Distance methods: drift when the distance reaches the threshold (as Evidently)."""
        return bool(self.score >= self.threshold)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "score": float(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


def summarize(
    columns: dict[str, ColumnDrift],
    drift_share: float,
    rows: dict[str, int],
    prediction: ColumnDrift | None = None,
    target: ColumnDrift | None = None,
) -> dict:
    """The summary document: per-column results and the dataset verdict.

    ``rows`` holds ``reference_rows``, ``current_rows``, ``sampled_reference_rows`` and
    ``sampled_current_rows``. The dataset drifts when the share of drifted columns reaches
    ``drift_share`` (Evidently's rule).
    """
    drifted = [name for name, result in columns.items() if result.drifted]
    share = len(drifted) / len(columns) if columns else 0.0
    return {
        "dataset_drift": bool(columns) and share >= drift_share,
        "drift_share": share,
        "drift_share_threshold": drift_share,
        "number_of_columns": len(columns),
        "number_of_drifted_columns": len(drifted),
        "drifted_columns": drifted,
        "columns": {name: result.to_dict() for name, result in columns.items()},
        **rows,
        "prediction_drift": prediction.to_dict() if prediction else None,
        "target_drift": target.to_dict() if target else None,
    }


def exit_code(summary: dict) -> int:
    return EXIT_DRIFT if summary["dataset_drift"] else EXIT_OK


def describe(summary: dict) -> list[str]:
    """A few lines for the terminal: the verdict, the share, the drifted columns."""
    verdict = "DRIFT" if summary["dataset_drift"] else "no dataset drift"
    lines = [
        f"{verdict}: {summary['number_of_drifted_columns']} of {summary['number_of_columns']} "
        f"columns drifted (share {summary['drift_share']:.2f}, "
        f"threshold {summary['drift_share_threshold']:.2f})",
        f"rows: reference {summary['reference_rows']:,} (sampled "
        f"{summary['sampled_reference_rows']:,}), current {summary['current_rows']:,} "
        f"(sampled {summary['sampled_current_rows']:,})",
    ]
    if summary["drifted_columns"]:
        lines.append("drifted: " + ", ".join(summary["drifted_columns"]))
    for key, label in (("prediction_drift", "prediction"), ("target_drift", "target")):
        if result := summary[key]:
            state = "drifted" if result["drifted"] else "stable"
            lines.append(f"{label}: {state} ({result['method']} {result['score']:.3f})")
    return lines
