"""Shared fixtures: a small config and settings that point every job into a temporary folder."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_config() -> PipelineConfig:
    """The shipped config with a small, fast dataset."""
    return PipelineConfig(synthetic=SyntheticConfig(rows=4_000, seed=7, chunk_rows=1_500))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        config_path=PROJECT_ROOT / "configs" / "pipeline.yaml",
        data_dir=tmp_path / "data",
        models_dir=tmp_path / "models",
        reports_dir=tmp_path / "reports",
        input_csv=None,
    )


@pytest.fixture
def customers() -> pd.DataFrame:
    """Raw rows as a CSV spells them (all text)."""
    return generate_customers(500, np.random.default_rng(0)).astype(str)
