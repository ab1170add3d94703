"""Continuous training, once and without Airflow: drift check -> retrain -> register -> gate.

1. Drift: the current window against the champion's reference, the training split it was
   fitted on (jobs/drift.py). The window is a table{% if cookiecutter|layer_enabled("serving") %} or the server's prediction log{% endif %}.
2. Retrain when the data drifted, or regardless when the trigger is ``new-data`` or
   ``schedule``: the whole pipeline (prepare, train, evaluate) on the labelled batch, in a
   workspace of its own (``runs/ct-<UTC time>/{data,models,reports}``), registered as
   @challenger (jobs/register.py).
3. Gate: champion and challenger scored on that run's test split, the most recent labelled
   data; promote or reject (jobs/promote.py).

Exit codes of the `ct` command: 0 the loop ran, whatever it decided (no drift: nothing
retrained; the gate promoted or rejected); 2 bad input (a missing file, a window without labels
to retrain on, too few rows, no champion).
{%- if cookiecutter|layer_enabled("serving") %}
4: promoted, but the server did not confirm the reload (reload it: see jobs/promote.py).
{%- endif %}
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..configs import PipelineConfig
from ..io import tracking
from ..settings import Settings
from . import drift, pipeline, promote, register

#: What started a run: ``drift`` retrains only when drift is found, the others always do.
TRIGGERS = ("drift", "new-data", "schedule")


class CtInputError(ValueError):
    """The loop cannot start: the message names the option or file at fault."""


@dataclass(frozen=True)
class Reference:
    """The champion's training split (the drift reference) and model file."""

    table: Path
    model_file: Path
    about: str


@dataclass(frozen=True)
class CtResult:
    trigger: str
    workspace: Path
    drift: drift.DriftResult
    retrained: pipeline.PipelineResult | None = None
    registered: tracking.RegisteredModel | None = None
    promotion: promote.PromotionResult | None = None

    @property
    def exit_code(self) -> int:
        return self.promotion.exit_code if self.promotion else promote.EXIT_OK


def run(
    settings: Settings,
    config: PipelineConfig,
    current: Path,
    data: Path | None = None,
    trigger: str = "drift",
    actor: str = "make ct",
    reload: bool = True,
    runs_dir: Path = Path("runs"),
    say: Callable[[str], None] = print,
) -> CtResult:
    """One turn of the loop; ``say`` gets a short summary line (or a few) after each step."""
    batch = _check_inputs(current, data, trigger)
    reference = champion_reference(settings)
    workspace = new_workspace(runs_dir)
    run_settings = settings.model_copy(
        update={
            "data_dir": workspace / "data",
            "models_dir": workspace / "models",
            "reports_dir": workspace / "reports",
            "input_csv": batch,
        }
    )
    say(f"ct          trigger {trigger}, workspace {workspace}")
    checked = check_drift(settings, config, reference, current, run_settings.reports_dir, say)
    if trigger == "drift" and not checked.summary["dataset_drift"]:
        say("retrain     skipped: no dataset drift and the trigger is drift; the champion stays")
        return CtResult(trigger, workspace, checked)
    retrained, registered = retrain(run_settings, config, workspace, trigger, say)
    promotion = promote.run(run_settings, config, run_settings.test_table, actor, trigger, reload)
    for line in promotion.lines():
        say(line)
    return CtResult(trigger, workspace, checked, retrained, registered, promotion)


def _check_inputs(current: Path, data: Path | None, trigger: str) -> Path:
    """The labelled batch to retrain on; fails before any work when an input is unusable."""
    if trigger not in TRIGGERS:
        raise CtInputError(f"--trigger {trigger!r}: choose one of {', '.join(TRIGGERS)}")
    if not current.exists():
        raise CtInputError(f"--current {current}: no such file or folder")
    batch = data or current
    if batch.is_dir():
        raise CtInputError(
            f"--current {current} is a folder (a prediction log, without labels): "
            "give the labelled batch to retrain on with --data"
        )
    if not batch.is_file():
        raise CtInputError(f"--data {batch}: no such file")
    return batch


def champion_reference(settings: Settings) -> Reference:
    """What the champion was trained on, as its registration recorded it; the project's own
    training split and model when those files are gone (or were registered elsewhere)."""
    champion = tracking.describe(settings, tracking.CHAMPION)
    tags = tracking.version_tags(settings, champion.version)
    table = Path(tags.get(register.REFERENCE_TAG, ""))
    if table.is_file():
        model_file = Path(tags.get(register.MODEL_FILE_TAG, ""))
        return Reference(table, model_file, f"version {champion.version}'s training split")
    return Reference(settings.train_table, settings.model_file, "the project's training split")


def new_workspace(runs_dir: Path) -> Path:
    """runs/ct-<UTC time>, created; a second run in the same second gets a suffix."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1, 100):
        folder = runs_dir / (f"ct-{stamp}" if attempt == 1 else f"ct-{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        return folder
    raise CtInputError(f"{runs_dir}: too many ct runs named ct-{stamp}")


def check_drift(
    settings: Settings,
    config: PipelineConfig,
    reference: Reference,
    current: Path,
    reports_dir: Path,
    say: Callable[[str], None],
) -> drift.DriftResult:
    """The drift job on the window, logged to MLflow; its lines said."""
    result = drift.run(
        config.monitoring, reference.table, current, reports_dir / "drift", reference.model_file
    )
    drift.log(settings, result)
    say(f"drift       {current} against {reference.about}: {reference.table}")
    for line in result.lines():
        say(f"            {line}")
    return result


def retrain(
    settings: Settings,
    config: PipelineConfig,
    workspace: Path,
    trigger: str,
    say: Callable[[str], None],
) -> tuple[pipeline.PipelineResult, tracking.RegisteredModel]:
    """The pipeline on the labelled batch, registered (the version records its reference)."""
    result = pipeline.run(settings, config, progress=False)
    if result is None:  # only under torchrun, which this loop never starts
        raise CtInputError("the pipeline returned no result (a torchrun rank other than 0?)")
    prepared, metrics = result.prepared, result.evaluated.metrics
    say(
        f"retrain     {result.source}: {prepared.train_rows:,} train / {prepared.test_rows:,} "
        f"holdout rows; {result.trained.kind}, ROC-AUC {metrics['roc_auc']:.4f} on the holdout"
    )
    registered = register.run(settings, config, run_key=workspace.name)
    tracking.tag_version(
        settings,
        registered.version,
        {"ct.trigger": trigger, "ct.workspace": str(workspace)},
    )
    say(f"registered  {registered.name} version {registered.version} as @{registered.alias}")
    return result, registered
