"""MLflow tracking and model registry: the only module of the project that imports mlflow.

Embedded default: a SQLite database and an artifact folder under ``settings.mlflow_dir`` (the
plain file store cannot hold a registry). Set ``tracking_uri`` (or MLFLOW_TRACKING_URI) to an
``mlflow server`` URL and the same code logs over HTTP; nothing else changes.
"""

import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

# Before mlflow is imported: no usage data leaves the machine unless the user opts in.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from ..settings import Settings

CHAMPION = "champion"
CHALLENGER = "challenger"
#: Tag that makes registration idempotent: a retried task for the same data interval reuses
#: the version it registered the first time instead of adding another.
RUN_KEY_TAG = "run_key"


class TrackingError(RuntimeError):
    """The tracking server or registry refused a request; the message says which."""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    alias: str
    run_id: str
    model_uri: str
    #: The MD5 of the raw data the version was trained on (its DVC data version), if recorded.
    data_md5: str = ""
    #: True when a retry with the same run key found the version registered the first time.
    reused: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainingRun:
    """Everything one training run records; the adapter decides how MLflow stores it."""

    model: Pipeline
    params: dict[str, str | int | float | bool]
    metrics: dict[str, float]
    tags: dict[str, str]
    artifacts: list[Path]
    input_example: pd.DataFrame
    pip_requirements: list[str]
    code_paths: list[Path]
    trusted_types: list[str]
    run_key: str | None = None
    #: Per-epoch records ({"epoch": 1, "train_loss": ...}) of models trained in epochs.
    history: tuple[dict, ...] = ()


def server_uri(settings: Settings) -> str | None:
    """A tracking server from the settings, else from MLflow's own variable; None: embedded."""
    return settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None


def tracking_uri(settings: Settings) -> str:
    """The configured server, or SQLite inside the project (an absolute URI, any cwd)."""
    if server := server_uri(settings):
        return server
    settings.mlflow_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.mlflow_dir / 'mlflow.db').resolve()}"


def connect(settings: Settings) -> MlflowClient:
    """Point mlflow at the store and make sure the experiment exists."""
    uri = tracking_uri(settings)
    embedded = server_uri(settings) is None
    _use_store(uri)
    if mlflow.get_experiment_by_name(settings.experiment_name) is None:
        # Embedded store: artifacts in the project. A server chooses its own artifact root.
        location = (settings.mlflow_dir / "artifacts").resolve().as_uri() if embedded else None
        mlflow.create_experiment(settings.experiment_name, artifact_location=location)
    mlflow.set_experiment(settings.experiment_name)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _use_store(uri: str) -> None:
    """Point mlflow at ``uri`` without leaving it in the environment.

    mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI; left there, the next Settings in
    this process would take the embedded store for a server the user chose.
    """
    chosen = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if chosen is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = chosen


def log_and_register(settings: Settings, run: TrainingRun) -> RegisteredModel:
    """Log one training run with its model, register a version and give it an alias.

    The first version of a model becomes ``champion``; later ones become ``challenger``
    (promotion between the two is the champion/challenger gate's decision, not this one's).
    """
    client = connect(settings)
    name = settings.registered_model_name
    tags = {**run.tags, **({RUN_KEY_TAG: run.run_key} if run.run_key else {})}
    if run.run_key and (earlier := _version_with_run_key(client, settings, run.run_key)):
        _finish(client, name, earlier, tags)  # in case the first attempt stopped half-way
        return _describe(client, name, earlier, reused=True)
    with mlflow.start_run(run_name=run.run_key):
        mlflow.log_params(run.params)
        mlflow.log_metrics(run.metrics)
        for record in run.history:
            epoch = record["epoch"]
            mlflow.log_metrics({k: v for k, v in record.items() if k != "epoch"}, step=epoch)
        mlflow.set_tags(tags)
        for path in run.artifacts:
            mlflow.log_artifact(str(path), artifact_path="reports")
        info = mlflow.sklearn.log_model(
            run.model,
            name="model",
            signature=_signature(run.model, run.input_example),
            input_example=run.input_example,
            pip_requirements=run.pip_requirements,
            code_paths=[str(path) for path in run.code_paths],
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=run.trusted_types,
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    _finish(client, name, version, tags)
    return _describe(client, name, version)


def _finish(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    """Alias (if the version has none yet) and tags: the steps after the registration itself."""
    if not client.get_model_version(name, version).aliases:
        alias = CHALLENGER if _alias_version(client, name, CHAMPION) else CHAMPION
        client.set_registered_model_alias(name, alias, version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def load_model(settings: Settings, alias: str = CHAMPION):
    """The registered model behind ``alias`` as a pyfunc; ``predict`` returns churn scores."""
    connect(settings)
    uri = f"models:/{settings.registered_model_name}@{alias}"
    try:
        return mlflow.pyfunc.load_model(uri)
    except MlflowException as error:
        raise TrackingError(f"cannot load {uri} from {tracking_uri(settings)}: {error}") from error


def export_model(settings: Settings, alias: str, destination: Path) -> RegisteredModel:
    """Copy the version behind ``alias`` (MLmodel, weights, code, requirements) to a folder.

    The alias is read once and the files fetched by version number, so the entry returned
    describes the files written even if the alias moves meanwhile.
    """
    entry = describe(settings, alias)
    destination.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(artifact_uri=entry.model_uri, dst_path=str(destination))
    return entry


def load_version(
    settings: Settings, alias: str | None = None, version: str | None = None
) -> tuple[Pipeline, RegisteredModel]:
    """The fitted pipeline of one registered version (by number, else by alias) and its entry."""
    client = connect(settings)
    name = settings.registered_model_name
    version = version or _alias_version(client, name, alias or CHAMPION)
    if version is None:
        raise TrackingError(f"no version of {name!r} has alias {alias!r}")
    try:
        entry = _describe(client, name, version)
        # By number, not alias: the alias may move between reading it and loading.
        return mlflow.sklearn.load_model(entry.model_uri), entry
    except MlflowException as error:
        raise TrackingError(f"cannot load {name} version {version}: {error}") from error


def load_exported(folder: Path) -> Pipeline:
    """The fitted pipeline of a folder written by ``export_model`` (no registry needed)."""
    try:
        return mlflow.sklearn.load_model(str(folder))
    except MlflowException as error:
        raise TrackingError(f"cannot load the model in {folder}: {error}") from error


def describe(settings: Settings, alias: str = CHAMPION) -> RegisteredModel:
    """Name, version, run and URI of the version behind ``alias``."""
    client = connect(settings)
    version = _alias_version(client, settings.registered_model_name, alias)
    if version is None:
        raise TrackingError(f"no version of {settings.registered_model_name!r} has alias {alias!r}")
    return _describe(client, settings.registered_model_name, version)


def run_data(settings: Settings, run_id: str) -> tuple[dict, dict, dict]:
    """Params, metrics and tags of one run (for reports and tests)."""
    data = connect(settings).get_run(run_id).data
    return data.params, data.metrics, data.tags


def version_tags(settings: Settings, version: str) -> dict[str, str]:
    """The tags of one registered version."""
    client = connect(settings)
    return dict(client.get_model_version(settings.registered_model_name, version).tags)


def _signature(model: Pipeline, example: pd.DataFrame):
    with warnings.catch_warnings():
        # The contract rejects rows with missing integers, so MLflow's hint about them is noise.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        return infer_signature(example, model.predict_proba(example))


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return client.get_model_version_by_alias(name, alias).version
    except MlflowException:
        return None


def _version_with_run_key(client: MlflowClient, settings: Settings, run_key: str) -> str | None:
    """The version an earlier run with this key registered. The key is the run's first tag, so
    this finds it even when that run stopped before tagging the version."""
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is None:  # connect() creates it: none means no earlier run
        return None
    runs = client.search_runs([experiment.experiment_id], f"tags.{RUN_KEY_TAG} = '{run_key}'")
    name = settings.registered_model_name
    for earlier in runs:
        query = f"name = '{name}' and run_id = '{earlier.info.run_id}'"
        if found := client.search_model_versions(query):
            return str(found[0].version)
    return None


def _describe(
    client: MlflowClient, name: str, version: str, reused: bool = False
) -> RegisteredModel:
    details = client.get_model_version(name, version)
    aliases = details.aliases or [""]
    return RegisteredModel(
        name=name,
        version=str(version),
        alias=aliases[0],
        run_id=details.run_id or "",  # a version registered from a run has one
        model_uri=f"models:/{name}/{version}",
        data_md5=details.tags.get("data_md5", ""),
        reused=reused,
    )
{%- if cookiecutter|layer_enabled("monitoring") %}


def log_drift(settings: Settings, summary: dict, files: list[Path]) -> str:
    """One run of the project's experiment for a drift check: its files and verdict; the id."""
    metrics = {
        "drift_share": float(summary["drift_share"]),
        "dataset_drift": float(summary["dataset_drift"]),
        "drifted_columns": float(summary["number_of_drifted_columns"]),
    }
    return log_job_run(settings, "drift", metrics, {}, files)


def log_job_run(
    settings: Settings, job: str, metrics: dict[str, float], tags: dict[str, str], files: list[Path]
) -> str:
    """One run of the project's experiment for a job (drift, promotion): tag ``job``, metrics,
    tags and files (under ``<job>/``); its id."""
    connect(settings)
    with mlflow.start_run(run_name=job) as run:
        mlflow.set_tags({"job": job, **tags})
        mlflow.log_metrics(metrics)
        for path in files:
            mlflow.log_artifact(str(path), artifact_path=job)
    return run.info.run_id
{%- endif %}
{%- if cookiecutter|layer_enabled("continuous_training") %}


#: The gate leaves this alias on the champion it replaced: rolling back is one alias away.
PREVIOUS_CHAMPION = "previous-champion"


def alias_version(settings: Settings, alias: str) -> str | None:
    """The version behind ``alias`` (its number as text), or None when no version has it."""
    version = _alias_version(connect(settings), settings.registered_model_name, alias)
    return None if version is None else str(version)


def tag_version(settings: Settings, version: str, tags: dict[str, str]) -> None:
    """Set (or overwrite) tags on one registered version."""
    client = connect(settings)
    for key, value in tags.items():
        client.set_model_version_tag(settings.registered_model_name, version, key, value)


def move_champion(settings: Settings, version: str) -> str | None:
    """Give ``version`` the champion alias; the replaced champion keeps ``previous-champion``
    and the challenger alias leaves the promoted version (it has been judged). Returns the
    version that was champion before."""
    client = connect(settings)
    name = settings.registered_model_name
    found = _alias_version(client, name, CHAMPION)
    previous = None if found is None else str(found)
    try:
        if previous and previous != version:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, previous)
        client.set_registered_model_alias(name, CHAMPION, version)
        if str(_alias_version(client, name, CHALLENGER)) == version:
            client.delete_registered_model_alias(name, CHALLENGER)
    except MlflowException as error:
        raise TrackingError(
            f"cannot move @{CHAMPION} to {name} version {version}: {error}"
        ) from error
    return previous


def log_promotion(
    settings: Settings, metrics: dict[str, float], tags: dict[str, str], files: list[Path]
) -> str:
    """One run of the project's experiment for a gate decision: metrics, tags, report; its id."""
    return log_job_run(settings, "promotion", metrics, tags, files)
{%- endif %}
{%- if cookiecutter|layer_enabled("governance") %}


#: Where each version's lineage record and model card live among its run's artifacts.
GOVERNANCE_ARTIFACTS = "governance"


def version_entry(
    settings: Settings, version: str | None = None, alias: str | None = None
) -> RegisteredModel:
    """A registered version by number, else the one behind ``alias`` (default: champion)."""
    client = connect(settings)
    name = settings.registered_model_name
    number = version or _alias_version(client, name, alias or CHAMPION)
    if number is None:
        raise TrackingError(f"no version of {name!r} has alias {alias or CHAMPION!r}")
    try:
        return _describe(client, name, number)
    except MlflowException as error:
        raise TrackingError(f"no version {number} of {name!r}: {error.message}") from error


def log_governance(
    settings: Settings, entry: RegisteredModel, folder: Path, tags: dict[str, str]
) -> None:
    """Log ``folder`` as the version run's governance/ artifacts, then tag the version, in
    ``tags`` order (the last tag marks the set complete)."""
    client = connect(settings)
    client.log_artifacts(entry.run_id, str(folder), artifact_path=GOVERNANCE_ARTIFACTS)
    for key, value in tags.items():
        client.set_model_version_tag(entry.name, entry.version, key, value)


def download_run_folder(settings: Settings, run_id: str, path: str, destination: Path) -> bool:
    """Copy a folder of a run's artifacts (e.g. governance/) into ``destination``; False when
    the run has none."""
    client = connect(settings)
    if not client.list_artifacts(run_id, path):
        return False
    destination.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=path, dst_path=str(destination)
    )
    return True
{%- endif %}
