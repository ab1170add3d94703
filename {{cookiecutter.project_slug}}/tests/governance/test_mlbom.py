"""Each registered version's CycloneDX ML-BOM (mlbom.cdx.json): logged with its model card,
valid against the CycloneDX 1.6 JSON schema (cyclonedx-python-lib's validator), and carrying
the version, the model's SHA-256, its metrics and the data it was trained on."""

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.core import mlbom
from {{ cookiecutter.package_name }}.core.lineage import Environment, lineage_record
from {{ cookiecutter.package_name }}.core.model_card import CardText
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.jobs import governance, register
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

MODEL, DATA = "machine-learning-model", "data"
DIGEST = "ab" * 32
GROUP = {"factor": "gender", "group": "Female", "rows": 40, "churn_rate": 0.25, "roc_auc": 0.79}


def component(document: dict, kind: str) -> dict:
    (found,) = [item for item in document["components"] if item["type"] == kind]
    return found


def small_lineage() -> dict:
    """A hand-made lineage record: no registry needed."""
    return lineage_record(
        name="churn",
        version="7",
        run_id="0123abcd",
        params={"model.kind": "logistic_regression", "model.logistic_regression.C": "1.0"},
        metrics={"roc_auc": 0.81, "brier": 0.12},
        run_tags={"data_path": "data/raw/customers.csv", "data_md5": "cd" * 16},
        environment=Environment("3.11.9", "ef" * 32),
        factors=[GROUP],
        recorded_at="2025-05-01T12:00:00+00:00",
    )


def small_bom(text: CardText | None = None) -> dict:
    """The BOM of ``small_lineage`` with ``text`` (default: the card's defaults)."""
    lineage, text = small_lineage(), text or CardText()
    bom = mlbom.build_bom(lineage, text, model_sha256=DIGEST, tool=("churn", "0.1.0"))
    return json.loads(mlbom.to_json(bom, lineage, text))


def test_a_bom_from_a_lineage_record_is_valid_cyclonedx():
    document = small_bom()

    assert mlbom.validate(json.dumps(document)) is None
    assert document["specVersion"] == "1.6"
    model, data = component(document, MODEL), component(document, DATA)
    assert (model["name"], model["version"]) == ("churn", "7")
    assert model["hashes"] == [{"alg": "SHA-256", "content": DIGEST}]
    assert model["purl"] == "pkg:mlflow/churn@7?run_id=0123abcd"
    assert data["hashes"] == [{"alg": "MD5", "content": "cd" * 16}]
    assert model["modelCard"]["modelParameters"]["datasets"] == [{"ref": data["bom-ref"]}]
    assert {"ref": model["bom-ref"], "dependsOn": [data["bom-ref"]]} in document["dependencies"]
    # Aliases move after the BOM is written (a promotion): it does not name them.
    assert not any("alias" in item["name"] for item in model["properties"])


@pytest.mark.parametrize(
    ("owner", "contact"),
    [
        ("Data Science Team", {"name": "Data Science Team"}),
        ("Owner (team)", {"name": "Owner (team)"}),
        ("Your Name <you@example.com>", {"name": "Your Name", "email": "you@example.com"}),
        ("ml-team@example.com", {"email": "ml-team@example.com"}),
        ("Team <not an address>", {"name": "Team <not an address>"}),
    ],
)
def test_the_owner_becomes_the_author_whatever_its_form(owner, contact):
    document = small_bom(CardText(owner=owner))

    assert mlbom.validate(json.dumps(document)) is None
    assert document["metadata"]["authors"] == [contact]
    assert component(document, MODEL)["authors"] == [contact]
    (details,) = component(document, DATA)["data"]
    assert details["governance"]["owners"] == [{"contact": contact}]


def settings_with_card(folder: Path, owner: str) -> Settings:
    """Settings whose configs/model_card.yaml (beside the pipeline config) names ``owner``."""
    (folder / "model_card.yaml").write_text(json.dumps({"owner": owner}), encoding="utf-8")
    return Settings(config_path=folder / "pipeline.yaml", reports_dir=folder / "reports")


def an_entry(model_sha256: str = DIGEST) -> tracking.RegisteredModel:
    return tracking.RegisteredModel(
        "churn", "7", "champion", "0123abcd", "models:/churn/7", model_sha256=model_sha256
    )


def test_write_bom_writes_a_valid_bom_from_the_card_config(tmp_path):
    settings = settings_with_card(tmp_path, "Data Science Team")

    problem = governance.write_bom(settings, tmp_path, small_lineage(), an_entry())

    assert problem is None
    text = (tmp_path / governance.BOM_JSON).read_text(encoding="utf-8")
    assert mlbom.validate(text) is None
    assert json.loads(text)["metadata"]["authors"] == [{"name": "Data Science Team"}]


def test_an_invalid_bom_is_withheld_with_a_warning(tmp_path, caplog):
    settings = settings_with_card(tmp_path, "Data Science Team")
    stale = tmp_path / governance.BOM_JSON
    stale.write_text("{}", encoding="utf-8")  # an earlier BOM must not stand in for this one

    with caplog.at_level(logging.WARNING):
        problem = governance.write_bom(
            settings, tmp_path, small_lineage(), an_entry(model_sha256="not a digest")
        )

    assert problem is not None
    assert "hashes/0/content" in problem
    assert not stale.exists()
    assert any(
        record.levelno == logging.WARNING and problem in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("hashes", [{"alg": "SHA-256", "content": "not a digest"}], "hashes/0/content"),
        ("type", "ml-model", "type"),
        ("modelCard", {"owner": "someone"}, "modelCard"),
    ],
)
def test_a_tampered_bom_fails_the_schema(field, value, where):
    document = small_bom()
    component(document, MODEL)[field] = value

    problem = mlbom.validate(json.dumps(document))

    assert problem is not None
    assert where in problem


def stored_bom(registry, entry: tracking.RegisteredModel, into: Path) -> str:
    """The version run's governance/mlbom.cdx.json, downloaded."""
    assert tracking.download_run_folder(registry.settings, entry.run_id, "governance", into)
    return (into / "governance" / governance.BOM_JSON).read_text(encoding="utf-8")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("which", ["first", "second"])
def test_each_registered_version_is_logged_with_a_valid_ml_bom(registry, which, tmp_path):
    entry, settings = getattr(registry, which), registry.settings

    text = stored_bom(registry, entry, tmp_path)

    assert mlbom.validate(text) is None
    document = json.loads(text)
    model, data = component(document, MODEL), component(document, DATA)
    tags = tracking.version_tags(settings, entry.version)
    assert (model["name"], model["version"]) == (entry.name, entry.version)
    assert model["hashes"] == [{"alg": "SHA-256", "content": tags[tracking.CHECKSUM_TAG]}]
    properties = {item["name"]: item["value"] for item in model["properties"]}
    assert properties["mlflow:run_id"] == entry.run_id
    assert "mlflow:alias" not in properties
    assert properties["lineage:git_commit"] == tags["lineage.git_commit"]
    _, metrics, _ = tracking.run_data(settings, entry.run_id)
    reported = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    overall = {item["type"]: float(item["value"]) for item in reported if "slice" not in item}
    assert overall["roc_auc"] == pytest.approx(metrics["roc_auc"])
    sliced = {item["slice"].split("=")[0] for item in reported if "slice" in item}
    assert sliced == set(governance.FACTOR_COLUMNS)
    raw_md5 = hashlib.md5(settings.raw_table.read_bytes(), usedforsecurity=False).hexdigest()
    assert data["hashes"] == [{"alg": "MD5", "content": raw_md5}]
    assert data["data"][0]["type"] == "dataset"
    local = governance.version_folder(settings, entry.version) / governance.BOM_JSON
    assert local.read_text(encoding="utf-8") == text


def cli_environment(monkeypatch, registry) -> None:
    settings = registry.settings
    for name, value in {
        "CONFIG_PATH": settings.config_path,
        "DATA_DIR": settings.data_dir,
        "MODELS_DIR": settings.models_dir,
        "REPORTS_DIR": settings.reports_dir,
        "MLFLOW_DIR": settings.mlflow_dir,
    }.items():
        monkeypatch.setenv(ENV_PREFIX + name, str(value))


@pytest.mark.integration
@pytest.mark.slow
def test_ml_bom_command_fetches_and_checks_a_version(registry, tmp_path, monkeypatch):
    cli_environment(monkeypatch, registry)

    result = CliRunner().invoke(app, ["ml-bom", "--version", "1", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "valid CycloneDX 1.6 ML-BOM" in result.output
    written = json.loads((tmp_path / governance.BOM_JSON).read_text(encoding="utf-8"))
    assert component(written, MODEL)["version"] == "1"


@pytest.mark.integration
@pytest.mark.slow
def test_a_version_without_a_bom_gets_one_built_and_logged(registry, monkeypatch, tmp_path):
    settings = registry.settings
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry.folder)
        entry = register.run(settings, registry.config, run_key="before-export")
    # As if registered before the export was chosen: a record and card, but no ML-BOM.
    artifact = f"{entry.run_id}/artifacts/governance/{governance.BOM_JSON}"
    (logged,) = settings.mlflow_dir.rglob(artifact)
    logged.unlink()
    shutil.rmtree(governance.version_folder(settings, entry.version))
    cli_environment(monkeypatch, registry)

    result = CliRunner().invoke(app, ["ml-bom", "--version", entry.version])

    assert result.exit_code == 0, result.output
    assert mlbom.validate(stored_bom(registry, entry, tmp_path)) is None


@pytest.mark.integration
@pytest.mark.slow
def test_ml_bom_command_exits_1_on_a_bom_it_cannot_make_valid(registry, monkeypatch):
    settings = registry.settings
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry.folder)
        entry = register.run(settings, registry.config, run_key="bad-checksum")
    # No BOM stored, and a checksum tag the schema rejects as a SHA-256: nothing valid to build.
    artifact = f"{entry.run_id}/artifacts/governance/{governance.BOM_JSON}"
    (logged,) = settings.mlflow_dir.rglob(artifact)
    logged.unlink()
    shutil.rmtree(governance.version_folder(settings, entry.version))
    client = tracking.connect(settings)
    client.set_model_version_tag(entry.name, entry.version, tracking.CHECKSUM_TAG, "not a digest")
    cli_environment(monkeypatch, registry)

    result = CliRunner().invoke(app, ["ml-bom", "--version", entry.version])

    assert result.exit_code == 1, result.output
    assert "NOT valid CycloneDX: " in result.output
    assert "hashes/0/content" in result.output
    # Withheld: neither written beside the card nor logged with it; the record and card are.
    folder = governance.version_folder(settings, entry.version)
    assert not (folder / governance.BOM_JSON).exists()
    assert (folder / governance.CARD_HTML).is_file()
    assert not list(settings.mlflow_dir.rglob(artifact))


@pytest.mark.integration
@pytest.mark.slow
def test_ml_bom_command_names_a_missing_version(registry, monkeypatch):
    cli_environment(monkeypatch, registry)

    result = CliRunner().invoke(app, ["ml-bom", "--version", "99"])

    assert result.exit_code == 2
    assert "no version 99" in result.output
