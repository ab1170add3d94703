"""Command line: one command per job, each calling the same ``run`` as the notebook does."""

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer

from .configs import ConfigError, PipelineConfig, load_config
from .core.validation import SchemaError
from .jobs import evaluate, generate, pipeline, prepare, train
from .settings import Settings

app = typer.Typer(
    help="Customer churn: generate or load data, validate it, train a baseline, evaluate it.\n\n"
    "Locations come from the environment or .env (see .env.example); what the jobs do comes "
    "from the config file (configs/pipeline.yaml).",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Pipeline config YAML [default: settings.config_path]."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Hide progress bars.")]
EXPECTED_ERRORS = (ConfigError, SchemaError, prepare.DataContractError, FileNotFoundError)


def clear_errors(command: Callable) -> Callable:
    """Expected failures print one line naming the cause and exit 2, with no traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as error:
            typer.secho(f"error: {error}", fg="red", err=True)
            raise typer.Exit(code=2) from None

    return wrapper


def _setup(config_path: Path | None) -> tuple[Settings, PipelineConfig]:
    settings = Settings()
    return settings, load_config(config_path or settings.config_path)


@app.command("generate")
@clear_errors
def generate_command(
    config: ConfigOption = None,
    rows: Annotated[int | None, typer.Option(help="Rows to generate [default: config].")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: config].")] = None,
    drift: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Drift to inject, 0-1 [default: config].")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="CSV to write [default: data/raw].")] = None,
    quiet: QuietOption = False,
) -> None:
    """Generate seeded synthetic customers in the Telco schema (optionally drifted)."""
    settings, pipeline_config = _setup(config)
    overrides = {"rows": rows, "seed": seed, "drift": drift}
    synthetic = pipeline_config.synthetic.model_copy(
        update={key: value for key, value in overrides.items() if value is not None}
    )
    result = generate.run(synthetic, output or settings.raw_table, progress=not quiet)
    typer.echo(f"wrote {result.rows:,} rows to {result.path}")


@app.command("prepare")
@clear_errors
def prepare_command(
    config: ConfigOption = None,
    input_csv: Annotated[
        Path | None,
        typer.Option("--input", help="Your CSV in the Telco schema [default: data/raw]."),
    ] = None,
) -> None:
    """Validate raw rows, quarantine the bad ones with reasons, and split train/test."""
    settings, pipeline_config = _setup(config)
    result = prepare.run(
        input_csv or settings.input_csv or settings.raw_table,
        settings.quarantine_csv,
        settings.train_table,
        settings.test_table,
        pipeline_config.validation,
        pipeline_config.split,
    )
    typer.echo(
        f"{result.rows_read:,} rows read, {result.rows_rejected:,} quarantined in "
        f"{result.quarantine}, {result.train_rows:,} train / {result.test_rows:,} test"
    )


@app.command("train")
@clear_errors
def train_command(config: ConfigOption = None, quiet: QuietOption = False) -> None:
    """Fit the configured model (model.kind) on the training split and save it."""
    settings, pipeline_config = _setup(config)
    result = train.run(pipeline_config.model, settings.train_table, settings.model_file, not quiet)
    typer.echo(f"trained {result.kind} on {result.rows:,} rows -> {result.model}")


@app.command("evaluate")
@clear_errors
def evaluate_command(config: ConfigOption = None) -> None:
    """Score the test split: metrics JSON, ROC/calibration/confusion/importance plots."""
    settings, pipeline_config = _setup(config)
    result = evaluate.run(
        pipeline_config.evaluation,
        settings.model_file,
        settings.test_table,
        settings.metrics_json,
        settings.figures_dir,
    )
    typer.echo(f"ROC-AUC {result.metrics['roc_auc']:.4f} -> {result.metrics_json}")


@app.command("run")
@clear_errors
def run_command(
    config: ConfigOption = None,
    input_csv: Annotated[
        Path | None,
        typer.Option("--input", help="Your CSV in the Telco schema [default: synthetic data]."),
    ] = None,
    quiet: QuietOption = False,
{%- if cookiecutter|layer_enabled("tracking") %}
    register: Annotated[
        bool, typer.Option("--register", help="Then log the run to MLflow and register it.")
    ] = False,
{%- endif %}
) -> None:
    """The main job: data -> validation -> training -> evaluation, then a summary.

    Under `torchrun` every rank trains and rank 0 does the rest.
    """
    settings, pipeline_config = _setup(config)
    result = pipeline.run(settings, pipeline_config, input_csv, progress=not quiet)
    if result is None:  # a torchrun rank other than 0: rank 0 reports
        return
    typer.echo("\n".join(result.summary()))
{%- if cookiecutter|layer_enabled("tracking") %}
    if register:
        register_command(config)


@app.command("register")
@clear_errors
def register_command(
    config: ConfigOption = None,
    run_key: Annotated[
        str | None,
        typer.Option(help="Idempotency key (e.g. the data interval): a retry reuses its version."),
    ] = None,
) -> None:
    """Log the trained model, its metrics and plots to MLflow and register a version.

    The first version becomes 'champion', later ones 'challenger'. Tracking goes to SQLite in
    mlflow/ unless a server URI is set (MLFLOW_TRACKING_URI or the settings).
    """
    from .io.tracking import TrackingError  # mlflow loads only for the commands that need it
    from .jobs import register

    settings, pipeline_config = _setup(config)
    try:
        entry = register.run(settings, pipeline_config, run_key=run_key)
    except TrackingError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    note = " (already registered for this run key)" if entry.reused else ""
    typer.echo(f"registered {entry.name} version {entry.version} as @{entry.alias}{note}")
{%- endif %}
{%- if cookiecutter|layer_enabled("serving") %}


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (slower).")] = False,
) -> None:
    """Run the prediction server (uvicorn); see /docs for its routes.

    It serves models:/<name>@champion, or an exported copy (SERVE_MODEL_DIR); keys, limits, the
    prediction log come from the environment with the {{ cookiecutter.package_name|upper }}_ prefix.
    """
    import uvicorn

    uvicorn.run(
        "{{ cookiecutter.package_name }}.serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )


@app.command("export")
@clear_errors
def export_command(
    alias: Annotated[str, typer.Option(help="Registry alias to export.")] = "champion",
    to: Annotated[Path, typer.Option(help="Folder to write.")] = Path("models/exported"),
) -> None:
    """Copy a registered version out of the registry, for a server without one (offline).

    Serve it with {{ cookiecutter.package_name|upper }}_SERVE_MODEL_DIR=<folder> make serve.
    """
    from .io.tracking import TrackingError
    from .jobs import export

    try:
        entry = export.run(Settings(), alias, to)
    except TrackingError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"exported {entry.name} version {entry.version} (@{alias}) to {to}")
{%- endif %}
{%- if cookiecutter|layer_enabled("monitoring") %}


@app.command("drift")
@clear_errors
def drift_command(
    config: ConfigOption = None,
    current: Annotated[
        Path | None,
        typer.Option(
            help="Window to check: a .parquet/.csv table in the Telco schema (label optional)"
{%- if cookiecutter|layer_enabled("serving") %}
            " or a folder of prediction-log files (default: the server's log, prediction_log_dir).",
{%- else %}
            " (required).",
{%- endif %}
        ),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            help="Reference table (default: the training split, data the model was trained on)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for report.html and summary.json (default: reports/drift)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
{%- if cookiecutter|layer_enabled("tracking") %}
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="Log the report and verdict to MLflow.")
    ] = True,
{%- endif %}
) -> None:
    """Data drift of a current window against the reference, with Evidently.

    Writes report.html (Evidently's report) and summary.json. Exit code 0: no dataset drift,
    3: dataset drift found, 2: bad input (a missing column, too few rows, no such file).
    Each window is a seeded uniform sample (monitoring.sample_rows in the config).
    """
    from .core.drift import DriftInputError  # evidently loads only for this command
    from .jobs import drift

    settings, pipeline_config = _setup(config)
{%- if cookiecutter|layer_enabled("serving") %}
    current = current or settings.prediction_log_dir
{%- endif %}
    if current is None:
        typer.secho("error: give the window to check with --current", fg="red", err=True)
        raise typer.Exit(code=2)
    try:
        result = drift.run(
            pipeline_config.monitoring,
            reference or settings.train_table,
            current,
            out or settings.reports_dir / "drift",
            settings.model_file,
        )
    except DriftInputError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
{%- if cookiecutter|layer_enabled("tracking") %}
    run_id = drift.log(settings, result) if log else None
{%- endif %}
    if not quiet:
        typer.echo("\n".join(result.lines()))
{%- if cookiecutter|layer_enabled("tracking") %}
        if run_id:
            typer.echo(f"logged to MLflow run {run_id}")
{%- endif %}
    raise typer.Exit(code=result.exit_code)
{%- endif %}
