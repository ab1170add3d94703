"""Fit the configured baseline on the training split and save it."""

from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..configs import ModelConfig
from ..core.features import churn_labels
from ..core.models import build_model, fit_in_steps
from ..core.schema import INPUT_COLUMNS
from ..io.datasets import read_customers, save_model
from .launch import Launch


@dataclass(frozen=True)
class TrainResult:
    rows: int
    kind: str
    model: Path


def run(
    config: ModelConfig, train_table: Path, model_file: Path, progress: bool = True
) -> TrainResult:
    """Train on ``train_table`` and write the fitted pipeline to ``model_file``."""
{%- if cookiecutter|layer_enabled("training") %}
    if config.kind == "tabular_net":
        from . import train_net  # torch loads only for the model kind that needs it

        return train_net.run(config, train_table, model_file, progress)
{%- endif %}
    if not Launch.from_env().is_main:  # under torchrun, scikit-learn trains on rank 0 alone
        return TrainResult(rows=0, kind=config.kind, model=model_file)
    customers = read_customers(train_table)
    features, labels = customers[list(INPUT_COLUMNS)], churn_labels(customers)
    model = build_model(config)
    with tqdm(total=None, desc=f"train {config.kind}", unit="step", disable=not progress) as bar:
        for done, total in fit_in_steps(model, features, labels):
            bar.total = total
            bar.n = done
            bar.refresh()
    save_model(model, model_file)
    return TrainResult(rows=len(customers), kind=config.kind, model=model_file)
