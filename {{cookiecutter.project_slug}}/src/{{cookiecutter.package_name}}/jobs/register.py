"""Record a trained model in MLflow and register it: params, metrics, plots, data version, commit.

Runs after evaluate, on the files the earlier jobs wrote, so DVC, Airflow and the CLI register the
same way and training itself never needs a tracking server.
"""

import hashlib
import json
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from ..configs import PipelineConfig
from ..core.schema import INPUT_COLUMNS
from ..io import tracking
from ..io.datasets import load_model, read_customers, write_json
from ..settings import Settings
{%- if cookiecutter|layer_enabled("governance") %}
from . import governance
{%- endif %}

#: What the logged model needs to load; listed explicitly, since inferring them costs ~10 s.
MODEL_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "scipy", "skops")
#: The package travels inside the model (MLflow code_paths): the pipeline calls its features.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Types outside skops' safe list that our pipelines contain; loading trusts these and no others.
TRUSTED_TYPES = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    f"{PACKAGE_DIR.name}.core.features.build_features",
)
EXAMPLE_ROWS = 5
#: Version tags naming the files the version was trained and saved as: the drift reference.
REFERENCE_TAG, MODEL_FILE_TAG = "reference_table", "model_file"


def run(settings: Settings, config: PipelineConfig, run_key: str | None = None):
    """Log the run behind ``settings.model_file`` and register it; return the registry entry.

    ``run_key`` (e.g. an Airflow data interval) makes a retry reuse its first registration.
    """
    model = load_model(settings.model_file)
    classifier = model.named_steps["classifier"]
    training_run = tracking.TrainingRun(
        model=model,
        params=flatten(config.model_dump(mode="json")),
        metrics=numeric(json.loads(settings.metrics_json.read_text(encoding="utf-8"))),
        tags={
            "data_path": str(settings.input_csv or settings.raw_table),
            # The raw table the run started from (ingest's copy or conversion of data_path),
            # by the digest DVC records for it in dvc.lock: the data version.
            "data_md5": file_md5(settings.raw_table),
            "train_md5": file_md5(settings.train_table),
            "git_commit": git_commit(),
            "model_kind": config.model.kind,
            REFERENCE_TAG: str(settings.train_table.resolve()),
            MODEL_FILE_TAG: str(settings.model_file.resolve()),
        },
        artifacts=[settings.metrics_json, *sorted(settings.figures_dir.glob("*.png"))],
        input_example=read_customers(settings.test_table)[list(INPUT_COLUMNS)].head(EXAMPLE_ROWS),
        pip_requirements=pinned(
            MODEL_REQUIREMENTS + tuple(getattr(classifier, "extra_requirements", ()))
        ),
        code_paths=[PACKAGE_DIR],
        trusted_types=[*TRUSTED_TYPES, *own_types(classifier)],
        run_key=run_key,
        history=tuple(getattr(classifier, "history_", ())),
    )
    registered = tracking.log_and_register(settings, training_run)
{%- if cookiecutter|layer_enabled("governance") %}
    # Every version gets its lineage record and model card (a retry's reused one keeps its own).
    governance.record_version(settings, registered, model)
{%- endif %}
    write_json(registered.to_dict(), settings.registered_json)
    return registered


def own_types(classifier) -> list[str]:
    """A classifier defined in this package (the PyTorch model) is trusted by name."""
    kind = type(classifier)
    if not kind.__module__.startswith(PACKAGE_DIR.name + "."):
        return []
    return [f"{kind.__module__}.{kind.__qualname__}"]


def flatten(document: dict, prefix: str = "") -> dict:
    """Nested dicts as dotted keys: {"model": {"kind": "x"}} -> {"model.kind": "x"}."""
    flat = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def numeric(document: dict) -> dict[str, float]:
    """The numbers of a metrics document, flattened; lists and labels stay in the artifact."""
    return {
        name: float(value)
        for name, value in flatten(document).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str:
    """HEAD of the project's repository, with '-dirty' when tracked files differ from it."""
    head = _git("rev-parse", "HEAD")
    if head.returncode != 0:
        return "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def _git(*args: str) -> subprocess.CompletedProcess:
    git = shutil.which("git")
    if git is None:  # no git in a container image: the commit is "unknown"
        return subprocess.CompletedProcess(["git", *args], 127, "", "git is not on PATH")
    # S603 waived: git by its absolute path, with fixed subcommands and no shell.
    return subprocess.run([git, *args], capture_output=True, text=True, check=False)  # noqa: S603


def pinned(distributions: tuple[str, ...]) -> list[str]:
    """Exact versions, without local labels such as torch's '+cpu' (GPU hosts pick their build)."""
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in distributions]
