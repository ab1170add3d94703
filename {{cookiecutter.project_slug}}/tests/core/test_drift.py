"""The drift logic without Evidently: a seeded uniform sample, the verdict and the exit code."""

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core import drift as core_drift
from {{ cookiecutter.package_name }}.core.drift import (
    EXIT_DRIFT,
    EXIT_OK,
    ColumnDrift,
    DriftInputError,
    UniformSample,
    check_rows,
    describe,
    exit_code,
    missing_columns,
    sample_positions,
    summarize,
)

ROWS = {"reference_rows": 10, "current_rows": 10, "sampled_reference_rows": 10,
        "sampled_current_rows": 10}  # fmt: skip


def numbered(rows: int, chunk_rows: int) -> list[pd.DataFrame]:
    return [
        pd.DataFrame({"row": np.arange(start, min(start + chunk_rows, rows))})
        for start in range(0, rows, chunk_rows)
    ]


def sample_rows(rows: int, size: int, seed: int, chunk_rows: int) -> list[int]:
    sample = UniformSample(size, seed).extend(numbered(rows, chunk_rows))
    assert sample.rows == rows
    return sample.frame(["row"])["row"].tolist()


def test_same_seed_same_rows_and_the_requested_size():
    first = sample_rows(10_000, 500, seed=1, chunk_rows=700)

    assert first == sample_rows(10_000, 500, seed=1, chunk_rows=700)
    assert first != sample_rows(10_000, 500, seed=2, chunk_rows=700)
    assert len(first) == len(set(first)) == 500
    assert first == sorted(first)  # rows keep the order they were read in


def test_a_window_smaller_than_the_sample_or_size_zero_keeps_every_row():
    assert sample_rows(300, 500, seed=1, chunk_rows=128) == list(range(300))
    assert sample_rows(3_000, 0, seed=1, chunk_rows=128) == list(range(3_000))


def test_the_sample_is_uniform_over_the_rows_whatever_the_chunks():
    rows, size = 1_000, 100
    hits = np.zeros(rows)
    for seed in range(400):
        hits[sample_rows(rows, size, seed, chunk_rows=37 if seed % 2 else 450)] += 1
    # Each row is in 10% of the samples: 40 of 400 expected; the first and last chunks too.
    assert hits.mean() == pytest.approx(40)
    assert hits.min() > 20
    assert hits.max() < 65
    assert hits[:100].mean() == pytest.approx(40, abs=4)
    assert hits[-100:].mean() == pytest.approx(40, abs=4)


@pytest.mark.parametrize(
    ("rows", "size", "chunk_rows"),
    [(10_000, 500, 700), (10_000, 500, 10_000), (2_000, 1, 999), (300, 500, 128), (900, 0, 64)],
)
def test_positions_are_the_rows_the_streaming_sample_keeps(rows, size, chunk_rows, monkeypatch):
    monkeypatch.setattr(core_drift, "KEY_CHUNK_ROWS", 333)  # keys drawn in several chunks too

    positions = sample_positions(rows, size, seed=3).tolist()

    assert positions == sample_rows(rows, size, seed=3, chunk_rows=chunk_rows)
    assert len(positions) == min(rows, size or rows)


def test_missing_column_and_too_few_rows_are_named():
    with pytest.raises(DriftInputError, match="current window has no column 'tenure'"):
        missing_columns("current", ["gender"], ["gender", "tenure"])
    with pytest.raises(DriftInputError, match="has 150 rows, fewer than the minimum of 200"):
        check_rows("reference", 150, 200)
    check_rows("reference", 200, 200)


def drift(score: float) -> ColumnDrift:
    return ColumnDrift("wasserstein", score, 0.1)


@pytest.mark.parametrize(
    ("scores", "dataset_drift"),
    [((0.01, 0.02, 0.3, 0.01), False), ((0.1, 0.02, 0.3, 0.01), True), ((0.0,), False)],
)
def test_dataset_drifts_when_the_drifted_share_reaches_the_threshold(scores, dataset_drift):
    columns = {f"c{index}": drift(score) for index, score in enumerate(scores)}

    summary = summarize(columns, 0.5, ROWS)

    assert summary["dataset_drift"] is dataset_drift
    assert exit_code(summary) == (EXIT_DRIFT if dataset_drift else EXIT_OK)
    drifted = [name for name, score in zip(columns, scores, strict=True) if score >= 0.1]
    assert summary["drifted_columns"] == drifted
    assert summary["drift_share"] == len(drifted) / len(scores)
    assert summary["columns"]["c0"] == {
        "method": "wasserstein",
        "score": scores[0],
        "threshold": 0.1,
        "drifted": scores[0] >= 0.1,
    }
    assert (summary["prediction_drift"], summary["target_drift"]) == (None, None)


def test_summary_lines_name_the_verdict_and_the_drifted_columns():
    summary = summarize({"tenure": drift(0.4), "gender": drift(0.0)}, 0.5, ROWS, drift(0.2))

    lines = describe(summary)

    assert lines[0].startswith("DRIFT: 1 of 2 columns drifted (share 0.50")
    assert "drifted: tenure" in lines
    assert "prediction: drifted (wasserstein 0.200)" in lines
