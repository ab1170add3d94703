"""Typed, closed configs for *what* the jobs do (hyper-parameters, thresholds).

Every model forbids unknown keys, so a typo in configs/pipeline.yaml fails before any work starts.
"""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticConfig(StrictConfig):
    """The seeded generator used when no CSV of your own is given."""

    rows: int = Field(50_000, gt=0)
    seed: int = 42
    drift: float = Field(0.0, ge=0.0, le=1.0)
    chunk_rows: int = Field(100_000, gt=0)


class ValidationConfig(StrictConfig):
    """How much bad input a run tolerates before it stops."""

    max_rejected_share: float = Field(0.05, ge=0.0, le=1.0)
    chunk_rows: int = Field(100_000, gt=0)


class SplitConfig(StrictConfig):
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42


class LogisticRegressionConfig(StrictConfig):
    c: float = Field(1.0, gt=0.0)
    max_iter: int = Field(1_000, gt=0)


class GradientBoostingConfig(StrictConfig):
    learning_rate: float = Field(0.05, gt=0.0)
    max_iter: int = Field(200, gt=0)
    max_leaf_nodes: int = Field(31, gt=1)
    l2_regularization: float = Field(0.0, ge=0.0)


{%- if cookiecutter|layer_enabled("training") %}


class TabularNetConfig(StrictConfig):
    """The PyTorch model: categorical embeddings and an MLP, trained with AdamW."""

    hidden: tuple[int, ...] = Field((128, 64), min_length=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    batch_size: int = Field(1_024, gt=0)
    learning_rate: float = Field(2e-3, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    max_epochs: int = Field(30, gt=0)
    patience: int = Field(3, gt=0, description="epochs without a better validation loss")
    validation_share: float = Field(0.1, gt=0.0, lt=1.0)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
{%- endif %}


class ModelConfig(StrictConfig):
    kind: Literal["logistic_regression", "gradient_boosting"{% if cookiecutter|layer_enabled("training") %}, "tabular_net"{% endif %}] = "logistic_regression"
    seed: int = 42
    logistic_regression: LogisticRegressionConfig = LogisticRegressionConfig()
    gradient_boosting: GradientBoostingConfig = GradientBoostingConfig()
{%- if cookiecutter|layer_enabled("training") %}
    tabular_net: TabularNetConfig = TabularNetConfig()
{%- endif %}


class EvaluationConfig(StrictConfig):
    """Costs behind the decision threshold, and the effort spent on feature importance."""

    false_positive_cost: float = Field(20.0, ge=0.0, description="retention offer wasted")
    false_negative_cost: float = Field(100.0, ge=0.0, description="customer lost unwarned")
    top_fraction: float = Field(0.1, gt=0.0, le=1.0)
    importance_rows: int = Field(2_000, gt=0)
    importance_repeats: int = Field(3, gt=0)
{%- if cookiecutter|layer_enabled("monitoring") %}


class MonitoringConfig(StrictConfig):
    """The drift job: how much of each window it samples and how Evidently judges drift.

    Methods are explicit so that a sample and the full data are judged by the same test
    (Evidently otherwise picks one by size); these are its own choices above 1,000 rows.
    """

    sample_rows: int = Field(50_000, ge=0, description="uniform sample per window; 0 = all")
    seed: int = 42
    drift_share: float = Field(0.25, gt=0.0, le=1.0)
    numeric_method: Literal["wasserstein", "psi", "hellinger", "jensenshannon", "kl_div"] = (
        "wasserstein"
    )
    categorical_method: Literal["jensenshannon", "psi", "hellinger", "kl_div"] = "jensenshannon"
    threshold: float = Field(0.1, gt=0.0)
    min_rows: int = Field(200, gt=0)
    chunk_rows: int = Field(100_000, gt=0)
{%- endif %}
{%- if cookiecutter|layer_enabled("continuous_training") %}


class ContinuousTrainingConfig(StrictConfig):
    """The champion/challenger gate (jobs/promote.py) and the loop around it (jobs/ct.py)."""

    metric: Literal[
        "roc_auc", "pr_auc", "lift_top_decile", "brier", "log_loss", "ece", "cost_per_customer"
    ] = "roc_auc"
    min_abs_improvement: float = Field(0.002, ge=0.0, description="in the metric's units")
    min_rel_improvement: float = Field(0.0, ge=0.0, description="share of the champion's value")
    calibration_metric: Literal["ece", "brier"] = "ece"
    max_calibration_worsening: float = Field(0.02, ge=0.0)
    calibration_bins: int = Field(10, ge=2)
    min_holdout_rows: int = Field(500, gt=0)
    reload_timeout_seconds: float = Field(60.0, gt=0.0)
{%- endif %}


class PipelineConfig(StrictConfig):
    synthetic: SyntheticConfig = SyntheticConfig()
    validation: ValidationConfig = ValidationConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
{%- if cookiecutter|layer_enabled("monitoring") %}
    monitoring: MonitoringConfig = MonitoringConfig()
{%- endif %}
{%- if cookiecutter|layer_enabled("continuous_training") %}
    continuous_training: ContinuousTrainingConfig = ContinuousTrainingConfig()
{%- endif %}


class ConfigError(ValueError):
    """A config file is unreadable or breaks the schema; the message names file and field."""


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline config YAML file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from error
    try:
        return PipelineConfig.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from error
