"""Command line: one command per job, each calling the same ``run`` as the notebook does."""

{% if cookiecutter|layer_enabled("tracking") -%}
import sys
{% endif -%}
from collections.abc import Callable{% if cookiecutter|layer_enabled("continuous_training") %}, Iterator{% endif %}
{%- if cookiecutter|layer_enabled("continuous_training") or cookiecutter|layer_enabled("serving") %}
from contextlib import contextmanager
{%- endif %}
{%- if cookiecutter|layer_enabled("continuous_training") %}
from enum import StrEnum
{%- endif %}
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer

from .configs import ConfigError, PipelineConfig, load_config
from .core.validation import SchemaError
from .jobs import generate, ingest, prepare, train  # the others load plotting: in their commands
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
        except {% if cookiecutter|layer_enabled("tracking") %}_expected_errors(){% else %}EXPECTED_ERRORS{% endif %} as error:
            typer.secho(f"error: {error}", fg="red", err=True)
            raise typer.Exit(code=2) from None

    return wrapper
{%- if cookiecutter|layer_enabled("tracking") %}


def _expected_errors() -> tuple[type[Exception], ...]:
    """EXPECTED_ERRORS, and TrackingError (server unreachable, model files changed, ...) once
    a command has loaded the tracking module: the CLI imports it, and mlflow, only when needed."""
    tracking = sys.modules.get(f"{__package__}.io.tracking")
    return EXPECTED_ERRORS + ((tracking.TrackingError,) if tracking is not None else ())
{%- endif %}


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


@app.command("ingest")
@clear_errors
def ingest_command(
    config: ConfigOption = None,
    input_csv: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Your CSV in the Telco schema [default: settings.input_csv; unset: synthetic].",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Make the raw table (data/raw) from your CSV, or from seeded synthetic customers.

    The DVC pipeline's first stage: it runs every time (your CSV is named in settings, not in
    dvc.yaml), and the stages after it rerun only when the table it writes changed.
    """
    settings, pipeline_config = _setup(config)
    result = ingest.run(
        input_csv or settings.input_csv,
        pipeline_config.synthetic,
        settings.raw_table,
        pipeline_config.validation.chunk_rows,
        progress=not quiet,
    )
    typer.echo(result.summary())


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
    from .jobs import evaluate

    settings, pipeline_config = _setup(config)
    result = evaluate.run(
        pipeline_config.evaluation,
        settings.model_file,
        settings.test_table,
        settings.metrics_json,
        settings.figures_dir,
    )
    typer.echo(f"ROC-AUC {result.metrics['roc_auc']:.4f} -> {result.metrics_json}")


@app.command("doctor")
def doctor_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the setup: stage, layers and their make targets, the environment against the lock,
    the GPU{% if cookiecutter|layer_enabled("tracking") %}, the tracking store{% endif %}{% if cookiecutter|layer_enabled("data") %}, git and the DVC remote{% endif %}. Exit 1: something is broken (FAIL).

    Run it in the project's top folder. `make doctor` runs the same checks without loading this
    CLI's dependencies, so it also reports an environment too broken for the CLI to start.
    """
    from .jobs import doctor

    raise typer.Exit(code=doctor.main(["--json"] if as_json else []))


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
    from .jobs import pipeline

    settings, pipeline_config = _setup(config)
{%- if cookiecutter|layer_enabled("tracking") %}
    if register:  # a tracking server that is down fails the command before training, not after
        from .io.tracking import check_server

        check_server(settings)
{%- endif %}
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
{%- if cookiecutter|layer_enabled("data") %}


@app.command("check-remote")
def check_remote_command(
    action: Annotated[
        str, typer.Argument(help="pull: the remote must hold the data; push: it must be set.")
    ] = "pull",
) -> None:
    """Check the default DVC remote before `dvc pull` or `dvc push` (make pull/push run it).

    Exit 2 with one line on what to do: no default remote, or a folder remote that is not there.
    """
    from .io.dvc_remote import RemoteError, check_remote

    if action not in ("pull", "push"):
        typer.secho(f"error: ACTION is pull or push, not {action!r}", fg="red", err=True)
        raise typer.Exit(code=2)
    try:
        remote = check_remote(Path.cwd(), "pull" if action == "pull" else "push")
    except RemoteError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"DVC remote {remote.name!r}: {remote.url}")
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


reliability_app = typer.Typer(
    help="Reliability checks of the prediction server: load, fuzz, crash (kill -9). Each starts "
    "its own server over the served model (logs in reports/reliability/<check>/, never the real "
    "ones) unless given --url, writes reports/reliability/<check>.json, exits 1 on a failure.",
    no_args_is_help=True,
)
app.add_typer(reliability_app, name="reliability")
UrlOption = Annotated[
    str | None,
    typer.Option(
        help="Check a server that already runs (http://127.0.0.1:8000) instead of starting one."
    ),
]


@contextmanager
def _checked_server(check: str, url: str | None, pid: int | None = None, **settings):
    """The server a check talks to: ``url``'s, or one started over the served model."""
    from .reliability.server import ServerError, champion_server, running

    try:
        if url is not None:
            yield running(url, pid)
            return
        with champion_server(Settings().reports_dir / "reliability" / check, **settings) as server:
            yield server
    except ServerError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None


def _report(check: str, report) -> None:
    """Print the report, write its JSON, exit 1 when it failed."""
    from .reliability.load import write_report

    path = write_report(report.to_dict(), Settings().reports_dir / "reliability" / f"{check}.json")
    typer.echo("\n".join(report.lines()))
    typer.echo(f"report: {path}")
    raise typer.Exit(code=0 if report.ok else 1)


@reliability_app.command("load")
def load_command(
    duration: Annotated[float, typer.Option(min=1, help="Seconds of load.")] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Keep-alive connections.")] = 16,
    max_rss_growth: Annotated[
        float, typer.Option(help="Fail at this server RSS growth, in % (after the warm-up).")
    ] = 10.0,
    url: UrlOption = None,
    pid: Annotated[
        int | None, typer.Option(help="With --url: the server's process id, to measure its RSS.")
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Bounded load test: valid /predict requests on N connections for D seconds.

    Reports requests, throughput, errors by kind, p50/p95/p99 latency and the server's RSS
    after a warm-up and at the end. Exit 1: any error, or RSS growth at or over the limit.
    """
    from .reliability import load

    settings = Settings()
    key = settings.serve_api_key.get_secret_value() if settings.serve_api_key else None
    with _checked_server("load", url, pid) as server:
        headers = {"X-API-Key": key} if key else {}
        report = load.run(server, duration, concurrency, max_rss_growth, headers, not quiet)
    _report("load", report)


@reliability_app.command("fuzz")
def fuzz_command(
    cases: Annotated[int, typer.Option(min=1, help="Requests to generate, at least.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the generated cases (reproducible).")] = 0,
    url: UrlOption = None,
    quiet: QuietOption = False,
) -> None:
    """Fuzz every route from the server's own /openapi.json (schemathesis), over HTTP.

    Checks every answer: no 5xx, no stack trace in the body, errors in the JSON error shape.
    The server it starts has a one-off admin token, so /admin/reload is fuzzed past 401; with
    --url, the configured API key and admin token are sent (fuzz only a server you own).
    Exit 1: a failing case, printed with a curl command that reproduces it.
    """
    import secrets

    from .reliability import fuzz
    from .reliability.server import client_headers

    settings = Settings()
    key = settings.serve_api_key.get_secret_value() if settings.serve_api_key else None
    token = settings.serve_admin_token.get_secret_value() if settings.serve_admin_token else None
    if url is None:
        token = secrets.token_urlsafe(16)
    with _checked_server("fuzz", url, serve_admin_token=token) as server:
        report = fuzz.run(server, cases, seed, client_headers(key, token), not quiet)
    _report("fuzz", report)


@reliability_app.command("crash")
def crash_command(
    requests: Annotated[
        int, typer.Option(min=1, help="Requests answered 200 before the kill -9.")
    ] = 2000,
    concurrency: Annotated[int, typer.Option(min=1, help="Keep-alive connections.")] = 16,
) -> None:
    """Kill -9 the server under load, restart it, and check its logs.

    Every prediction-log line parses{% if cookiecutter|layer_enabled("governance") %}, the audit chain verifies (durable mode){% endif %}, every request
    answered 200 has its record(s), and the restarted server answers and logs. Always starts
    its own server (logs in reports/reliability/crash/). Exit 1: a violation.
    """
    import shutil

    from .reliability import crash
    from .reliability.server import ServerError

    folder = Settings().reports_dir / "reliability" / "crash"
    shutil.rmtree(folder, ignore_errors=True)  # the checks read these logs: start empty
    try:
        report = crash.run(folder, kill_after=requests, concurrency=concurrency)
    except ServerError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    _report("crash", report)
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
{%- if cookiecutter|layer_enabled("continuous_training") %}
            help="Reference table (default: the champion's training split, as its registration "
            "recorded it; before any champion, the training split)."
{%- else %}
            help="Reference table (default: the training split, data the model was trained on)."
{%- endif %}
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
    current = _window(settings, current)
    reference_table, model_file = reference or settings.train_table, settings.model_file
{%- if cookiecutter|layer_enabled("continuous_training") %}
    if reference is None:
        reference_table, model_file = _champion_files(settings)
{%- endif %}
    try:
        result = drift.run(
            pipeline_config.monitoring,
            reference_table,
            current,
            out or settings.reports_dir / "drift",
            model_file,
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


def _window(settings: Settings, current: Path | None) -> Path:
    """The window to check: ``--current``{% if cookiecutter|layer_enabled("serving") %}, else the server's prediction log{% endif %}; exit 2 without one."""
{%- if cookiecutter|layer_enabled("serving") %}
    current = current or settings.prediction_log_dir
{%- endif %}
    if current is None:
        typer.secho("error: give the window to check with --current", fg="red", err=True)
        raise typer.Exit(code=2)
    return current
{%- endif %}
{%- if cookiecutter|layer_enabled("continuous_training") %}


def _champion_files(settings: Settings) -> tuple[Path, Path]:
    """The champion's training split and model file (a promotion moves them to its run
    folder); the project's own before any champion is registered."""
    from .io.tracking import TrackingError
    from .jobs.ct import champion_reference

    try:
        champion = champion_reference(settings)
    except TrackingError:
        return settings.train_table, settings.model_file
    return champion.table, champion.model_file


class CtTrigger(StrEnum):
    """What started a continuous-training run."""

    DRIFT = "drift"
    NEW_DATA = "new-data"
    SCHEDULE = "schedule"
{%- if cookiecutter|layer_enabled("serving") %}


ReloadOption = Annotated[
    bool,
    typer.Option(
        "--reload/--no-reload",
        help="After a promotion, tell the server at serve_url to load the new champion.",
    ),
]
{%- endif %}


@contextmanager
def _ct_errors() -> Iterator[None]:
    """Expected failures of promote and ct: one line and exit 2 (their modules load mlflow)."""
    from .core.drift import DriftInputError
    from .core.gate import GateInputError
    from .io.tracking import TrackingError
    from .jobs.ct import CtInputError
    from .jobs.promote import HoldoutError

    try:
        yield
    except (TrackingError, HoldoutError, GateInputError, DriftInputError, CtInputError) as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None


@app.command("promote")
@clear_errors
def promote_command(
    config: ConfigOption = None,
    holdout: Annotated[
        Path | None,
        typer.Option(
            help="Prepared, labelled table both models are scored on "
            "(default: the test split, settings.test_table)."
        ),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who or what asks (recorded).")] = "cli",
    trigger: Annotated[
        str, typer.Option(help="Why (recorded): manual, drift, new-data, schedule.")
    ] = "manual",
{%- if cookiecutter|layer_enabled("serving") %}
    reload: ReloadOption = True,
{%- endif %}
) -> None:
    """Judge @challenger against @champion on one holdout; promote it if the gate passes.

    The gate is the config's continuous_training section: a metric, minimum absolute and
    relative gains, a calibration guardrail. Promoted: @champion moves to the challenger (the
    old one keeps @previous-champion){% if cookiecutter|layer_enabled("serving") %} and the server at serve_url reloads{% endif %}. Rejected:
    the champion stays and the challenger's version carries the reason (tags gate.*). Writes
    reports/promotion.json and an MLflow run.

    Exit 0: decided (either way), or no challenger to judge; 2: bad input{% if cookiecutter|layer_enabled("serving") %}; 4: promoted, but
    the server did not confirm the reload{% endif %}.
    """
    from .jobs import promote

    settings, pipeline_config = _setup(config)
    with _ct_errors():
        result = promote.run(settings, pipeline_config, holdout, actor, trigger, {% if cookiecutter|layer_enabled("serving") %}reload{% else %}reload=False{% endif %})
    typer.echo("\n".join(result.lines()))
    raise typer.Exit(code=result.exit_code)


@app.command("ct")
@clear_errors
def ct_command(
    config: ConfigOption = None,
    current: Annotated[
        Path | None,
        typer.Option(
{%- if cookiecutter|layer_enabled("serving") %}
            help="Window to check for drift: a table in the Telco schema or a prediction-log "
            "folder (default: the server's log, prediction_log_dir).",
{%- else %}
            help="Window to check for drift: a table in the Telco schema (required).",
{%- endif %}
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Labelled batch to retrain on, a raw table in the Telco schema (its test "
            "split becomes the gate's holdout; default: the --current table)."
        ),
    ] = None,
    trigger: Annotated[
        CtTrigger,
        typer.Option(help="drift: retrain only when drift is found; new-data, schedule: always."),
    ] = CtTrigger.DRIFT,
    actor: Annotated[str, typer.Option(help="Who or what runs the loop (recorded).")] = "make ct",
{%- if cookiecutter|layer_enabled("serving") %}
    reload: ReloadOption = True,
{%- endif %}
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Continuous training once: drift check, retrain on labelled data, register, gate.

    Checks the window against the champion's training data; on drift (or always, for the
    new-data and schedule triggers) runs the pipeline on the batch in runs/ct-<time>/, registers
    it as @challenger and lets the gate judge it on that run's test split (see `promote`).

    Exit 0: the loop ran, whatever it decided; 2: bad input{% if cookiecutter|layer_enabled("serving") %}; 4: promoted, but the server
    did not confirm the reload{% endif %}.
    """
    from .jobs import ct

    settings, pipeline_config = _setup(config)
    current = _window(settings, current)
    with _ct_errors():
        result = ct.run(
            settings,
            pipeline_config,
            current,
            data,
            trigger.value,
            actor,
            {% if cookiecutter|layer_enabled("serving") %}reload{% else %}reload=False{% endif %},
            say=(lambda _: None) if quiet else typer.echo,
        )
    raise typer.Exit(code=result.exit_code)
{%- endif %}
{%- if cookiecutter|layer_enabled("governance") %}


@app.command("model-card")
@clear_errors
def model_card_command(
    version: Annotated[
        str | None, typer.Option(help="Registered version number [default: --alias's].")
    ] = None,
    alias: Annotated[str, typer.Option(help="Registry alias, when no --version.")] = "champion",
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write [default: reports/governance/<name>-v<version>]."),
    ] = None,
    render: Annotated[
        bool,
        typer.Option(
            "--render",
            help="Render the card again (stored lineage, current configs/model_card.yaml); log it.",
        ),
    ] = False,
) -> None:
    """Fetch a version's lineage record and model card (Markdown and HTML) from the registry.

    A version registered before the governance layer gets them now, built from its run.
    """
    from .io.tracking import TrackingError
    from .jobs import governance

    try:
        record = governance.fetch_card(Settings(), version, alias, out, render)
    except TrackingError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    done = "rendered and logged" if record.written else "fetched"
    number = record.lineage["model"]["version"]
    typer.echo(f"{done} version {number}: {record.folder / governance.CARD_HTML}")
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}


@app.command("ml-bom")
@clear_errors
def ml_bom_command(
    version: Annotated[
        str | None, typer.Option(help="Registered version number [default: --alias's].")
    ] = None,
    alias: Annotated[str, typer.Option(help="Registry alias, when no --version.")] = "champion",
    out: Annotated[
        Path | None,
        typer.Option(help="Folder to write [default: reports/governance/<name>-v<version>]."),
    ] = None,
) -> None:
    """Fetch a version's CycloneDX ML-BOM (mlbom.cdx.json) and check it against the schema.

    The BOM (CycloneDX 1.6) describes the registered model (name, version, SHA-256 of its files,
    run, metrics and model card) and the data it was trained on (DVC's MD5), for governance
    and supply-chain tools. Registration writes it beside the model card (an invalid one is
    withheld, with a warning); a version without one gets it now, built from its lineage record.
    Exit 0: valid; 1: names the first schema violation; 2: no such version.
    """
    from .io.tracking import TrackingError
    from .jobs import governance

    try:
        path, problem = governance.fetch_bom(Settings(), version, alias, out)
    except TrackingError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    if problem is not None:
        typer.echo(f"{path}: NOT valid CycloneDX: {problem}")
        raise typer.Exit(code=1)
    typer.echo(f"{path}: valid CycloneDX 1.6 ML-BOM")
{%- endif %}


audit_app = typer.Typer(
    help="The tamper-evident audit log (predictions, promotions): verify it, apply retention.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
AuditDirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Audit log folder [default: settings.audit_log_dir]."),
]


@audit_app.command("verify")
def audit_verify_command(folder: AuditDirOption = None) -> None:
    """Check the hash chain. Exit 0: intact; 1: names the first edited, removed or reordered
    record (file, line, seq); 2: no such folder.

    Records cut off the end leave no gap: compare the printed head hash with a copy kept
    elsewhere (WORM storage) to catch that too.
    """
    from .jobs import governance

    folder = folder or Settings().audit_log_dir
    if not folder.is_dir():
        typer.secho(f"error: no audit log folder {folder}", fg="red", err=True)
        raise typer.Exit(code=2)
    verdict = governance.verify_audit(folder)
    if verdict.problem is not None:
        typer.echo(f"audit log {folder}: BROKEN at {verdict.problem}")
        raise typer.Exit(code=1)
    span = f"seq {verdict.first_seq}-{verdict.last_seq}" if verdict.records else "no records"
    typer.echo(f"audit log {folder}: OK, {verdict.records:,} records ({span}), head {verdict.head}")


@audit_app.command("prune")
def audit_prune_command(
    folder: AuditDirOption = None,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Days to keep [default: settings.audit_retention_days]."),
    ] = None,
) -> None:
    """Apply retention: delete whole day files older than it. The deletion is recorded in the
    chain and anchor.json keeps the last deleted hash, so `audit verify` checks the rest."""
    from .io.audit_log import AuditLogError
    from .jobs import governance

    settings = Settings()
    days = days or settings.audit_retention_days
    if days is None:
        prefix = Settings.model_config["env_prefix"]
        typer.secho(f"error: give --days or set {prefix}AUDIT_RETENTION_DAYS", fg="red", err=True)
        raise typer.Exit(code=2)
    try:
        result = governance.prune_audit(folder or settings.audit_log_dir, days)
    except AuditLogError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(code=2) from None
    kept = f", chain resumes after seq {result.anchor.seq}" if result.anchor else ""
    typer.echo(f"deleted {len(result.deleted)} file(s) older than {days} days{kept}")
{%- endif %}
