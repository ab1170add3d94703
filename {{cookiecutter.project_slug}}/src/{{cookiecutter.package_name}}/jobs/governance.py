"""Governance jobs: each registered version's lineage record and model card, and the audit log.

``register.run`` calls ``record_version`` right after registering, so every version (CLI, DVC
stage, Airflow, continuous training) gets reports/governance/<name>-v<N>/ (lineage.json,
model_card.md, model_card.html, figures/), the same files as the governance/ artifacts of its
run, and ``lineage.*`` tags on the version. ``fetch_card`` brings them back (or renders them for
a version registered before the layer existed); ``verify_audit``/``prune_audit`` check and trim
the audit log.{% if cookiecutter|uses("governance_export", "cyclonedx") %} Each version's folder and governance/ artifacts also hold its CycloneDX
ML-BOM (mlbom.cdx.json, built by core/mlbom.py); ``fetch_bom`` brings it back.{% endif %}
"""

import hashlib
import json
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}
import logging
{%- endif %}
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}
from importlib import metadata
{%- endif %}
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError
from sklearn.pipeline import Pipeline

from ..configs import ConfigError
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}
from ..core import mlbom
{%- endif %}
from ..core.audit import Problem, Verdict, verify
from ..core.features import churn_labels
from ..core.lineage import RECORDED_TAG, Environment, lineage_record, lineage_tags
from ..core.model_card import CardText, build_card, disaggregate, to_html, to_markdown
from ..core.schema import INPUT_COLUMNS
from ..io import tracking
from ..io.audit_log import AuditLog, PruneResult, read_anchor, read_lines
from ..io.datasets import iter_customers, write_json
from ..settings import Settings

LINEAGE_JSON = "lineage.json"
CARD_MD = "model_card.md"
CARD_HTML = "model_card.html"
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}
BOM_JSON = "mlbom.cdx.json"
{%- endif %}
#: The per-group results of the card ("factors" in Mitchell et al.).
FACTOR_COLUMNS = ("gender", "SeniorCitizen", "Partner", "Dependents", "Contract")
#: Test rows scored for the per-group results: enough for group AUCs, bounded at any scale.
FACTOR_ROWS = 100_000
#: The project's root in a source checkout (src/<package>/jobs/ is three levels below it).
PROJECT_DIR = Path(__file__).resolve().parents[3]
CONSTRAINTS = Path("requirements") / "constraints.txt"
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}

log = logging.getLogger(__name__)
{%- endif %}


@dataclass(frozen=True)
class VersionRecord:
    folder: Path
    lineage: dict
    #: False when the version's stored record was only fetched (or a retry found it complete).
    written: bool


def record_version(
    settings: Settings, entry: tracking.RegisteredModel, model: Pipeline | None = None
) -> VersionRecord:
    """Write, log and tag the lineage record and model card of a just registered version.

    A retry that reused a version whose record is complete changes nothing; one whose first
    attempt stopped half-way writes it (same artifact paths and tag names: nothing doubles).
    """
    folder = version_folder(settings, entry.version)
    if entry.reused and RECORDED_TAG in tracking.version_tags(settings, entry.version):
        return VersionRecord(folder, {}, written=False)
    factors = factor_results(model, settings.test_table) if model is not None else []
    lineage = _lineage(settings, entry, current_environment(settings), factors)
    figures = sorted(settings.figures_dir.glob("*.png"))
    write_record(folder, lineage, card_text(settings), figures)
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}
    write_bom(settings, folder, lineage, entry)
{%- endif %}
    tracking.log_governance(settings, entry, folder, lineage_tags(lineage))
    return VersionRecord(folder, lineage, written=True)


def fetch_card(
    settings: Settings,
    version: str | None = None,
    alias: str | None = None,
    out: Path | None = None,
    render: bool = False,
) -> VersionRecord:
    """A version's stored record and card, copied to ``out`` (default reports/governance/...).

    ``render`` renders the card again from the stored lineage and the current
    configs/model_card.yaml, and logs it. A version registered before the governance layer has
    no record: one is built from its run (environment unknown) and logged.
    """
    entry = tracking.version_entry(settings, version, alias)
    folder = out or version_folder(settings, entry.version)
    with tempfile.TemporaryDirectory() as scratch:
        stored = Path(scratch) / tracking.GOVERNANCE_ARTIFACTS
        if tracking.download_run_folder(settings, entry.run_id, stored.name, Path(scratch)):
            lineage = json.loads((stored / LINEAGE_JSON).read_text(encoding="utf-8"))
            if not render:
                _replace_folder(folder, stored)
                return VersionRecord(folder, lineage, written=False)
            figures = sorted((stored / "figures").glob("*.png"))
        else:
            # Registered before the governance layer: the environment is not known any more.
            lineage = _lineage(settings, entry, None, [])
            tracking.download_run_folder(settings, entry.run_id, "reports", Path(scratch))
            figures = sorted((Path(scratch) / "reports").glob("*.png"))
        write_record(folder, lineage, card_text(settings), figures)
{%- if cookiecutter|uses("governance_export", "cyclonedx") %}
        write_bom(settings, folder, lineage, entry)
{%- endif %}
        tracking.log_governance(settings, entry, folder, lineage_tags(lineage))
    return VersionRecord(folder, lineage, written=True)


{% if cookiecutter|uses("governance_export", "cyclonedx") -%}
def fetch_bom(
    settings: Settings,
    version: str | None = None,
    alias: str | None = None,
    out: Path | None = None,
) -> tuple[Path, str | None]:
    """A version's ML-BOM (with its record and card, as ``fetch_card``) and the first problem
    the CycloneDX schema finds in it (None: valid). A version registered before the export was
    chosen gets one now, built from its stored lineage, and logged with it."""
    record = fetch_card(settings, version, alias, out)
    path = record.folder / BOM_JSON
    if not path.is_file():
        entry = tracking.version_entry(settings, version, alias)
        problem = write_bom(settings, record.folder, record.lineage, entry)
        if problem is not None:
            return path, problem
        tracking.log_governance(settings, entry, record.folder, {})
    return path, mlbom.validate(path.read_text(encoding="utf-8"))


def write_bom(
    settings: Settings, folder: Path, lineage: dict, entry: tracking.RegisteredModel
) -> str | None:
    """mlbom.cdx.json in ``folder``: the lineage record and card as a CycloneDX ML-BOM, checked
    against the schema first. An invalid one is not written (so not logged either): the first
    problem is returned and logged as a warning, and ``ml-bom`` exits 1 naming it.

    Not an error: registration calls this after the version exists, with its record and card
    written but not yet logged; raising here would leave a registered version without them
    (and without the tags that mark it complete). The BOM is an export of that record, so the
    record is kept and the export alone is withheld until configs/model_card.yaml is fixed.
    """
    text = card_text(settings)
    try:
        project = metadata.version({{ cookiecutter.project_slug|jsonify }})
    except metadata.PackageNotFoundError:  # run from a source checkout (PYTHONPATH=src)
        project = "unknown"
    bom = mlbom.build_bom(
        lineage,
        text,
        model_sha256=entry.model_sha256,
        tool=({{ cookiecutter.project_slug|jsonify }}, project),
    )
    document = mlbom.to_json(bom, lineage, text)
    problem = mlbom.validate(document)
    if problem is not None:
        (folder / BOM_JSON).unlink(missing_ok=True)
        log.warning(
            "%s v%s: ML-BOM not written, not valid CycloneDX: %s",
            entry.name,
            entry.version,
            problem,
        )
        return problem
    (folder / BOM_JSON).write_text(document, encoding="utf-8")
    return None


{% endif -%}
def version_folder(settings: Settings, version: str) -> Path:
    return settings.reports_dir / "governance" / f"{settings.registered_model_name}-v{version}"


def current_environment(settings: Settings) -> Environment:
    """Python, the lock file's hash (source checkout, else the working folder) and the image."""
    found = [path for path in (PROJECT_DIR / CONSTRAINTS, CONSTRAINTS) if path.is_file()]
    lock_hash = hashlib.sha256(found[0].read_bytes()).hexdigest() if found else ""
    return Environment(platform.python_version(), lock_hash, settings.image_digest)


def factor_results(model: Pipeline, test_table: Path) -> list[dict]:
    """Per-group results on (the first FACTOR_ROWS rows of) the test table."""
    labels: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    groups: dict[str, list[np.ndarray]] = {column: [] for column in FACTOR_COLUMNS}
    rows = 0
    for chunk in iter_customers(test_table, FACTOR_ROWS):
        chunk = chunk.head(FACTOR_ROWS - rows)
        labels.append(churn_labels(chunk).to_numpy())
        scores.append(model.predict_proba(chunk[list(INPUT_COLUMNS)])[:, 1])
        for column in FACTOR_COLUMNS:
            groups[column].append(chunk[column].astype(str).to_numpy())
        rows += len(chunk)
        if rows >= FACTOR_ROWS:
            break
    if not rows:
        return []
    joined = {column: np.concatenate(parts) for column, parts in groups.items()}
    return disaggregate(joined, np.concatenate(labels), np.concatenate(scores))


def card_text(settings: Settings) -> CardText:
    """The narrative of the cards: model_card.yaml beside the pipeline config, else defaults."""
    path = settings.config_path.with_name("model_card.yaml")
    if not path.is_file():
        return CardText()
    try:
        return CardText.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{path}: {error}") from None


def write_record(folder: Path, lineage: dict, text: CardText, figures: list[Path]) -> None:
    """lineage.json, the card in Markdown and HTML, and figures/ in a fresh ``folder``."""
    images = {path.name: path.read_bytes() for path in figures}  # before ``folder`` goes
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "figures").mkdir(parents=True)
    for name, data in images.items():
        (folder / "figures" / name).write_bytes(data)
    card = build_card(lineage, text, sorted(images))
    write_json(lineage, folder / LINEAGE_JSON)
    (folder / CARD_MD).write_text(to_markdown(card), encoding="utf-8")
    (folder / CARD_HTML).write_text(to_html(card, images), encoding="utf-8")


def verify_audit(folder: Path) -> Verdict:
    """The audit log's hash chain checked from its start (or retention anchor) to its end."""
    try:
        anchor = read_anchor(folder)
    except (ValueError, KeyError, TypeError) as error:
        problem = Problem("anchor.json", 1, None, f"not a valid anchor: {error}")
        return Verdict(0, None, None, "", problem)
    return verify(read_lines(folder), anchor)


def prune_audit(folder: Path, retention_days: int) -> PruneResult:
    """Delete the audit files older than ``retention_days``, keeping the chain verifiable."""
    with AuditLog(folder) as log:
        return log.prune(retention_days)


def _lineage(
    settings: Settings,
    entry: tracking.RegisteredModel,
    environment: Environment | None,
    factors: list[dict],
) -> dict:
    """The record of ``entry`` from its run as MLflow stored it (params, metrics, tags)."""
    params, metrics, tags = tracking.run_data(settings, entry.run_id)
    return lineage_record(
        name=entry.name,
        version=entry.version,
        run_id=entry.run_id,
        params=params,
        metrics=metrics,
        run_tags=tags,
        environment=environment,
        factors=factors,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _replace_folder(folder: Path, source: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(source, folder)
