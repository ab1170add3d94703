"""Shared fixtures: a small config and settings that point every job into a temporary folder."""

{% if cookiecutter|layer_enabled("tracking") -%}
from collections.abc import Callable
{% endif -%}
from pathlib import Path
{%- if cookiecutter|layer_enabled("tracking") %}
from typing import Any
{%- endif %}

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


@pytest.fixture
def user_csv(tmp_path: Path) -> Path:
    """A CSV like the public one (blank TotalCharges at tenure 0) with seven bad rows: five break
    the contract, one has a field too many and one stops after ten."""
    frame = generate_customers(3_000, np.random.default_rng(5)).astype(str)
    frame.loc[frame["tenure"] == "0", "TotalCharges"] = " "
    frame.loc[10, "Contract"] = "Fortnightly"
    frame.loc[20, "tenure"] = "twelve"
    frame.loc[30, "MonthlyCharges"] = ""
    frame.loc[40, "Churn"] = "1"
    frame.loc[50, "customerID"] = ""
    lines = frame.to_csv(index=False).splitlines()  # lines[n] is the file's line n + 1
    lines[61] += ",surplus"
    lines[71] = ",".join(lines[71].split(",")[:10])
    path = tmp_path / "telco.csv"
    path.write_text("\n".join(lines) + "\n")
    return path
{%- if cookiecutter|layer_enabled("tracking") %}


@pytest.fixture(scope="session")
def tracked_settings() -> Callable[..., Settings]:
    """A factory: ``tracked_settings(folder, **overrides)``, see ``settings_in``."""
    return settings_in


def settings_in(folder: Path, **overrides: Any) -> Settings:
    """Settings that keep a job's data, models and reports in ``folder`` and its MLflow store
    (SQLite) in ``folder/mlflow``, with no tracking server{% if cookiecutter|layer_enabled("serving") %} and no prediction log{% endif %};
    ``overrides`` win."""
    fields: dict[str, Any] = {
        "data_dir": folder / "data",
        "models_dir": folder / "models",
        "reports_dir": folder / "reports",
        "mlflow_dir": folder / "mlflow",
        "input_csv": None,
        "tracking_uri": None,
{%- if cookiecutter|layer_enabled("serving") %}
        "prediction_log_dir": None,
{%- endif %}
{%- if cookiecutter|layer_enabled("governance") %}
        "audit_log_dir": folder / "audit",
{%- endif %}
    }
    return Settings(**(fields | overrides))
{%- endif %}
