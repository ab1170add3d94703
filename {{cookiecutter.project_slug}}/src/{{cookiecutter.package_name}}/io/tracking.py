"""MLflow tracking and model registry: the only module of the project that imports mlflow.

Embedded default: a SQLite database and an artifact folder under ``settings.mlflow_dir`` (the
plain file store cannot hold a registry). Set ``tracking_uri`` (or MLFLOW_TRACKING_URI) to an
``mlflow server`` URL and the same code logs over HTTP; nothing else changes.

Faults end in one-line TrackingErrors: a server that does not answer is retried a bounded number
of times with doubling waits; a version is registered only after its model files were uploaded
and read back, with their SHA-256 as a tag; every load checks that digest before deserializing.
"""

import hashlib
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

# Before mlflow is imported: no usage data leaves the machine unless the user opts in.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# Models are copied to a scratch folder to be checked before loading: no progress bar each time
# (a command's output stays its result or its one-line error).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request
from sklearn.pipeline import Pipeline

from ..settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
#: Tag that makes registration idempotent: a retried task for the same data interval reuses
#: the version it registered the first time instead of adding another.
RUN_KEY_TAG = "run_key"
#: Version tag with the SHA-256 of the model's files (see ``model_sha256``), set when the
#: version is created and checked before every load.
CHECKSUM_TAG = "model_sha256"
#: The registry entry that ``export`` writes beside the model files.
ENTRY_FILE = "served-model.json"
#: Files beside a model that are not part of it, so not in its digest: the note of name and
#: version MLflow writes into a models:/ download, and the entry of an exported copy.
NOT_MODEL_FILES = frozenset({"registered_model_meta", ENTRY_FILE})
#: MLflow's own retries of each HTTP request; the settings fill those the user left unset.
_HTTP_RETRY_VARIABLES = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)
_http_retries_set: dict[str, str] = {}
#: Servers that answered /health in this process. A job connects many times; once one answered,
#: MLflow's own bounded retries (above) cover it stopping later, so it is not asked again.
_answered: set[str] = set()
#: /health answers in milliseconds: a server that takes longer is taken as down (retried).
HEALTH_TIMEOUT_S = 5.0
#: Where the OS's or urllib3's own words sit in a failed request's message, most precise first.
_CAUSES = (
    r"\[Errno -?\d+\] ([^'\")\]]+)",  # [Errno 111] Connection refused
    r"Error\(-?\d+, '([^']+)'\)",  # ConnectionResetError(104, 'Connection reset by peer')
    r"Caused by \w+\('([^']+)'",  # (Caused by ResponseError('too many 500 error responses'))
)


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
    #: SHA-256 of the model's files recorded at registration; empty for older versions.
    model_sha256: str = ""

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
    """Point mlflow at the store and make sure the experiment exists.

    A server is first asked for /health, with bounded retries: TrackingError when it never
    answers, before anything is logged.
    """
    uri = tracking_uri(settings)
    embedded = server_uri(settings) is None
    check_server(settings)
    _use_store(uri)
    try:
        if mlflow.get_experiment_by_name(settings.experiment_name) is None:
            # Embedded store: artifacts in the project. A server chooses its own artifact root.
            location = (settings.mlflow_dir / "artifacts").resolve().as_uri() if embedded else None
            mlflow.create_experiment(settings.experiment_name, artifact_location=location)
        mlflow.set_experiment(settings.experiment_name)
    except MlflowException as error:
        raise TrackingError(f"tracking store {safe_uri(uri)}: {_reason(error)}") from error
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def check_server(settings: Settings) -> None:
    """For a tracking server: bound MLflow's retries, then wait until it answers /health;
    TrackingError when it never does. Nothing to check for the embedded store."""
    uri = server_uri(settings)
    if uri is None:
        return
    _bound_http_retries(settings)
    if uri.startswith(("http://", "https://")) and uri not in _answered:
        _wait_for_server(uri, settings)
        _answered.add(uri)


def safe_uri(text: str) -> str:
    """``text`` with the user and password of every URI in it masked (``http://***@host``)."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", text)


def _bound_http_retries(settings: Settings) -> None:
    """MLflow retries each request 7 times over minutes by default: ours bound it, unless the
    user set MLflow's variables. Its backoff factor is whole seconds: ours rounded up."""
    wanted = (
        str(settings.tracking_retries),
        str(math.ceil(settings.tracking_backoff_s)),
        str(math.ceil(settings.tracking_timeout_s)),
    )
    for name, value in zip(_HTTP_RETRY_VARIABLES, wanted, strict=True):
        current = os.environ.get(name)
        if current is None or current == _http_retries_set.get(name):
            os.environ[name] = _http_retries_set[name] = value


def _wait_for_server(uri: str, settings: Settings) -> None:
    """GET <uri>/health until it answers, at most ``tracking_retries`` more times, waiting
    ``tracking_backoff_s`` and then twice as long each time; one warning line per retry."""
    attempts, wait = settings.tracking_retries + 1, settings.tracking_backoff_s
    for attempt in range(1, attempts + 1):
        problem = _health_problem(uri, min(HEALTH_TIMEOUT_S, settings.tracking_timeout_s))
        if problem is None:
            return
        if attempt < attempts:
            log.warning(
                "tracking server %s did not answer (%s), attempt %d of %d; retrying in %.1f s",
                safe_uri(uri), problem, attempt, attempts, wait,
            )  # fmt: skip
            time.sleep(wait)
            wait *= 2
    tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
    raise TrackingError(
        f"tracking server {safe_uri(uri)} did not answer after {tries} ({problem}): "
        f"start it, or unset {ENV_PREFIX}TRACKING_URI and MLFLOW_TRACKING_URI to use the "
        "embedded SQLite store"
    )


def _health_problem(uri: str, timeout_s: float) -> str | None:
    """None when the server answers /health; else why not, in a few words."""
    try:
        # MLflow's own client: the user's TLS and credential settings apply to the probe too.
        response = http_request(
            get_default_host_creds(uri), "/health", "GET", max_retries=0, backoff_factor=0,
            timeout=timeout_s,
        )  # fmt: skip
    except MlflowException as error:
        return _reason(error)
    return f"HTTP {response.status_code}" if response.status_code >= 500 else None


def _reason(error: BaseException) -> str:
    """The gist of a failed request on one line, credentials masked: the OS's words when there
    are some ("Connection refused"), else the message, shortened."""
    text = safe_uri(" ".join(str(getattr(error, "message", error)).split()))
    if isinstance(error, OSError):  # a local file: "[Errno 28] No space left on device: '...'"
        return text
    for cause in _CAUSES:
        if found := re.search(cause, text):
            return found.group(1).strip()
    if "timeout" in text.lower() or "timed out" in text.lower():
        return "timed out"
    return text if len(text) <= 300 else text[:297] + "..."


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
    The version is created only once the model's files are stored, with their digest as a tag.
    """
    client = connect(settings)
    name = settings.registered_model_name
    tags = {**run.tags, **({RUN_KEY_TAG: run.run_key} if run.run_key else {})}
    try:
        if run.run_key and (earlier := _version_with_run_key(client, settings, run.run_key)):
            _finish(client, name, earlier, tags)  # in case the first attempt stopped half-way
            return _describe(client, name, earlier, reused=True)
        version = _log_and_create_version(name, run, tags)
        _finish(client, name, version, tags)
    except (MlflowException, OSError) as error:
        where = safe_uri(tracking_uri(settings))
        raise TrackingError(f"cannot register {name} at {where}: {_reason(error)}") from error
    return _describe(client, name, version)


def _log_and_create_version(name: str, run: TrainingRun, tags: dict[str, str]) -> str:
    """Log the run and its model, read the stored model files back for their digest, then
    create the version with it: an upload that fails leaves a failed run and no version."""
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
        )
        with _scratch_folder() as scratch:
            digest = model_sha256(_download(info.model_uri, scratch))
        created = mlflow.register_model(info.model_uri, name, tags={CHECKSUM_TAG: digest})
    return str(created.version)


def _finish(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    """Alias (if the version has none yet) and tags: the steps after the registration itself."""
    if not client.get_model_version(name, version).aliases:
        alias = CHALLENGER if _alias_version(client, name, CHAMPION) else CHAMPION
        client.set_registered_model_alias(name, alias, version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def load_model(settings: Settings, alias: str = CHAMPION):
    """The registered model behind ``alias`` as a pyfunc; ``predict`` returns churn scores."""
    entry = describe(settings, alias)
    try:
        with _scratch_folder() as scratch:
            return mlflow.pyfunc.load_model(str(_verified_download(entry, scratch)))
    except MlflowException as error:
        where = safe_uri(tracking_uri(settings))
        raise TrackingError(
            f"cannot load {entry.model_uri} from {where}: {_reason(error)}"
        ) from error


def export_model(settings: Settings, alias: str, destination: Path) -> RegisteredModel:
    """Copy the version behind ``alias`` (MLmodel, weights, code, requirements) to a folder.

    The alias is read once and the files fetched by version number, so the entry returned
    describes the files written even if the alias moves meanwhile. Files whose digest differs
    from the registered one are not copied; an earlier export in ``destination`` is replaced
    whole, so no file of another version stays beside the new ones.
    """
    entry = describe(settings, alias)
    if _holds_other_files(destination):
        raise TrackingError(f"{destination} is not empty and holds no export: choose another")
    with _scratch_folder() as scratch:
        partial = scratch / "export"
        shutil.copytree(_verified_download(entry, scratch / "download"), partial)
        shutil.rmtree(destination, ignore_errors=True)
        shutil.move(partial, destination)
    return entry


def _holds_other_files(destination: Path) -> bool:
    """True for a folder with files in it that is not an earlier export (no entry file)."""
    if not destination.is_dir() or (destination / ENTRY_FILE).is_file():
        return False
    return any(destination.iterdir())


def load_version(
    settings: Settings, alias: str | None = None, version: str | None = None
) -> tuple[Pipeline, RegisteredModel]:
    """The fitted pipeline of one registered version (by number, else by alias) and its entry;
    TrackingError, before anything is deserialized, when its files do not match their digest."""
    client = connect(settings)
    name = settings.registered_model_name
    version = version or _alias_version(client, name, alias or CHAMPION)
    if version is None:
        raise TrackingError(f"no version of {name!r} has alias {alias!r}")
    try:
        entry = _describe(client, name, version)
        # By number, not alias: the alias may move between reading it and loading.
        with _scratch_folder() as scratch:
            return mlflow.sklearn.load_model(str(_verified_download(entry, scratch))), entry
    except MlflowException as error:
        raise TrackingError(f"cannot load {name} version {version}: {_reason(error)}") from error


def load_exported(folder: Path, expected_sha256: str = "") -> Pipeline:
    """The fitted pipeline of a folder written by ``export_model`` (no registry needed),
    checked against the digest its entry file recorded (``expected_sha256``) first."""
    _verify(folder, expected_sha256, f"the model in {folder}")
    try:
        return mlflow.sklearn.load_model(str(folder))
    except MlflowException as error:
        raise TrackingError(f"cannot load the model in {folder}: {_reason(error)}") from error


def model_sha256(folder: Path) -> str:
    """SHA-256 of a model folder: over one line "<file's SHA-256>  <relative path>" per file,
    in sorted path order, so the same files give the same digest anywhere."""
    files = sorted(
        (path.relative_to(folder).as_posix(), path)
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() not in NOT_MODEL_FILES
    )
    listing = "".join(f"{_file_sha256(path)}  {relative}\n" for relative, path in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _scratch_folder() -> Iterator[Path]:
    """A temporary folder for a model's files. Loading a model puts its code/ folder first on
    sys.path: that entry goes with the folder, so no later import can look there."""
    with tempfile.TemporaryDirectory(prefix="model-") as folder:
        try:
            yield Path(folder)
        finally:
            sys.path[:] = [entry for entry in sys.path if not entry.startswith(folder)]


def _download(model_uri: str, scratch: Path) -> Path:
    """The model's files, copied into ``scratch`` (a folder of its own, never the store's)."""
    scratch.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(scratch)))


def _verified_download(entry: RegisteredModel, scratch: Path) -> Path:
    """The version's files in ``scratch``, checked against the digest of its registration."""
    folder = _download(entry.model_uri, scratch)
    _verify(folder, entry.model_sha256, f"{entry.name} version {entry.version}")
    return folder


def _verify(folder: Path, expected: str, what: str) -> None:
    """TrackingError when the files' digest is not ``expected``; a warning when none was
    recorded (versions registered before digests were, or an export of one)."""
    if not expected:
        log.warning("%s has no %s tag: loading it unverified", what, CHECKSUM_TAG)
        return
    found = model_sha256(folder)
    if found != expected:
        raise TrackingError(
            f"{what}: model files changed since registration (sha256 {found}, registered "
            f"{expected}); refusing to load it"
        )


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
        model_sha256=details.tags.get(CHECKSUM_TAG, ""),
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
