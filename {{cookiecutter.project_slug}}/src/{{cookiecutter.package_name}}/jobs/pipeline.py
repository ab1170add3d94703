"""The main job: data -> validation -> training -> evaluation, on embedded defaults."""

from dataclasses import dataclass
from pathlib import Path

from ..configs import PipelineConfig
from ..settings import Settings
from . import evaluate, ingest, prepare, train
from .launch import Launch


@dataclass(frozen=True)
class PipelineResult:
    source: Path
    prepared: prepare.PrepareResult
    trained: train.TrainResult
    evaluated: evaluate.EvaluateResult

    def summary(self) -> list[str]:
        """Lines for people: what ran, what was rejected, how good the model is, where to look."""
        prepared, metrics = self.prepared, self.evaluated.metrics
        return [
            f"data        {self.source}: {prepared.rows_read:,} rows read",
            f"quarantine  {prepared.rows_rejected:,} rows rejected -> {prepared.quarantine}",
            f"split       {prepared.train_rows:,} train / {prepared.test_rows:,} test",
            f"model       {self.trained.kind} -> {self.trained.model}",
            f"quality     ROC-AUC {metrics['roc_auc']:.4f}  PR-AUC {metrics['pr_auc']:.4f}  "
            f"Brier {metrics['brier']:.4f}  lift@10% {metrics['lift_top_decile']:.2f}",
            f"decision    threshold {metrics['decision']['threshold']:.2f}, "
            f"cost per customer {metrics['decision']['cost_per_customer']:.2f}",
            f"metrics     {self.evaluated.metrics_json}",
            f"plots       {', '.join(str(path) for path in self.evaluated.figures)}",
        ]


def run(
    settings: Settings, config: PipelineConfig, input_csv: Path | None = None, progress: bool = True
) -> PipelineResult | None:
    """Run every step, from the raw table made of ``input_csv`` (or settings.input_csv), or of
    synthetic customers when neither is given.

    Under `torchrun` only rank 0 prepares, evaluates and returns a result; the other ranks
    join the training and return None.
    """
    if not Launch.from_env().is_main:
        train.run(config.model, settings.train_table, settings.model_file, progress)
        return None
    source = input_csv or settings.input_csv
    raw = ingest.run(
        source, config.synthetic, settings.raw_table, config.validation.chunk_rows, progress
    ).path
    prepared = prepare.run(
        raw,
        settings.quarantine_csv,
        settings.train_table,
        settings.test_table,
        config.validation,
        config.split,
    )
    trained = train.run(config.model, settings.train_table, settings.model_file, progress)
    data_summary = {
        "rows_read": prepared.rows_read,
        "rows_rejected": prepared.rows_rejected,
        "train_rows": prepared.train_rows,
        "test_rows": prepared.test_rows,
    }
    evaluated = evaluate.run(
        config.evaluation,
        settings.model_file,
        settings.test_table,
        settings.metrics_json,
        settings.figures_dir,
        extra={"data": data_summary, "model_kind": config.model.kind},
    )
    return PipelineResult(source or raw, prepared, trained, evaluated)
