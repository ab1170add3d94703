"""The main job end to end on small data, on real files in a temporary folder."""

import json

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.configs import ValidationConfig
from {{ cookiecutter.package_name }}.jobs import pipeline
from {{ cookiecutter.package_name }}.jobs.prepare import DataContractError

pytestmark = pytest.mark.integration

FIGURES = {"roc.png", "calibration.png", "confusion_matrix.png", "feature_importance.png"}


def test_main_job_writes_metrics_and_plots(settings, small_config):
    result = pipeline.run(settings, small_config, progress=False)
    assert result is not None  # None only on the other ranks of a torchrun

    metrics = json.loads(settings.metrics_json.read_text())
    assert metrics["roc_auc"] > 0.75
    assert metrics["data"]["rows_read"] == 4_000
    assert metrics["data"]["rows_rejected"] == 0
    assert {path.name for path in settings.figures_dir.iterdir()} == FIGURES
    assert all(path.stat().st_size > 5_000 for path in settings.figures_dir.iterdir())
    assert any("ROC-AUC" in line for line in result.summary())


def test_same_seed_data_and_config_give_identical_metrics(settings, small_config):
    pipeline.run(settings, small_config, progress=False)
    first = settings.metrics_json.read_bytes()

    pipeline.run(settings, small_config, progress=False)

    assert settings.metrics_json.read_bytes() == first


def test_gradient_boosting_runs_end_to_end(settings, small_config):
    model = small_config.model.model_copy(update={"kind": "gradient_boosting"})
    config = small_config.model_copy(update={"model": model})

    result = pipeline.run(settings, config, progress=False)
    assert result is not None

    assert result.evaluated.metrics["roc_auc"] > 0.75


def test_user_csv_with_blanks_and_malformed_rows(settings, small_config, user_csv):
    result = pipeline.run(settings, small_config, input_csv=user_csv, progress=False)
    assert result is not None

    rejected = pd.read_csv(settings.quarantine_csv, dtype=str, keep_default_na=False)
    assert result.prepared.rows_read == 3_000
    assert result.prepared.rows_rejected == 7
    assert rejected["line"].astype(int).tolist() == [12, 22, 32, 42, 52, 62, 72]
    assert rejected["reason"].str.contains("Contract='Fortnightly'").any()
    assert rejected["reason"].str.contains("tenure='twelve' is not a number").any()
    assert rejected["reason"].tolist()[-2:] == [
        "has 22 fields, expected 21 (extra: 'surplus')",
        "has 10 fields, expected 21",
    ]
    assert any("7 rows rejected" in line for line in result.summary())
    assert json.loads(settings.metrics_json.read_text())["data"]["rows_rejected"] == 7


def test_too_many_bad_rows_stop_the_run_with_the_reason(settings, small_config, user_csv):
    strict = small_config.model_copy(
        update={"validation": ValidationConfig(max_rejected_share=0.001)}
    )

    with pytest.raises(DataContractError, match=r"7 of 3,000 rows \(0.2%\).*max_rejected_share"):
        pipeline.run(settings, strict, input_csv=user_csv, progress=False)
    assert settings.quarantine_csv.exists()
    assert not settings.metrics_json.exists()
