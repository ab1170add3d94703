"""Every version registered through register.run gets its lineage (registry tags and
governance/lineage.json) and its model card (Markdown and HTML), in the registry and locally."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.core.audit import canonical
from {{ cookiecutter.package_name }}.core.lineage import RECORDED_TAG
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.jobs import governance, register
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FILES = {"lineage.json", "model_card.md", "model_card.html"}


def stored(registry, entry: tracking.RegisteredModel, into: Path) -> Path:
    """The version run's governance/ artifacts, downloaded."""
    assert tracking.download_run_folder(registry.settings, entry.run_id, "governance", into)
    return into / "governance"


@pytest.mark.parametrize("which", ["first", "second"])
def test_each_version_is_tagged_with_its_lineage(registry, which):
    entry = getattr(registry, which)
    settings = registry.settings

    tags = tracking.version_tags(settings, entry.version)

    raw_md5 = hashlib.md5(settings.raw_table.read_bytes(), usedforsecurity=False).hexdigest()
    assert tags["lineage.git_commit"].removesuffix("-dirty") == registry.commit
    assert tags["lineage.data_md5"] == raw_md5
    assert tags["lineage.run_id"] == entry.run_id
    assert tags["lineage.model_kind"] == registry.config.model.kind
    assert tags["lineage.image_digest"] == "none"
    assert len(tags["lineage.constraints_sha256"]) == 64
    assert RECORDED_TAG in tags


@pytest.mark.parametrize("which", ["first", "second"])
def test_each_version_run_holds_its_lineage_record_and_card(registry, which, tmp_path):
    entry = getattr(registry, which)

    folder = stored(registry, entry, tmp_path)

    assert FILES.issubset({path.name for path in folder.iterdir()})
    lineage = json.loads((folder / "lineage.json").read_text())
    params, metrics, _ = tracking.run_data(registry.settings, entry.run_id)
    tags = tracking.version_tags(registry.settings, entry.version)
    assert lineage["model"] == {
        "name": entry.name,
        "version": entry.version,
        "uri": entry.model_uri,
        "run_id": entry.run_id,
        "kind": registry.config.model.kind,
    }
    assert lineage["data"]["dvc_md5"] == tags["lineage.data_md5"]
    assert lineage["params"] == params
    assert lineage["metrics"]["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert {row["factor"] for row in lineage["factors"]} == set(governance.FACTOR_COLUMNS)
    assert tags["lineage.record_sha256"] == hashlib.sha256(canonical(lineage)).hexdigest()
    card = (folder / "model_card.html").read_text()
    assert f"version {entry.version}" in card
    assert "data:image/png;base64," in card  # the evaluation plots, embedded
    assert "9. Caveats and recommendations" in (folder / "model_card.md").read_text()


def test_the_record_is_also_written_locally(registry):
    local = governance.version_folder(registry.settings, registry.first.version)

    assert FILES.issubset({path.name for path in local.iterdir()})
    assert (local / "figures" / "roc.png").is_file()
    assert "](figures/roc.png)" in (local / "model_card.md").read_text()


def lineage_tags(registry, version: str) -> dict[str, str]:
    tags = tracking.version_tags(registry.settings, version)
    return {key: value for key, value in tags.items() if key.startswith("lineage.")}


def test_a_retry_that_reuses_its_version_changes_nothing(registry):
    settings, second = registry.settings, registry.second
    before = lineage_tags(registry, second.version)
    client = tracking.connect(settings)
    artifacts = [a.path for a in client.list_artifacts(second.run_id, "governance")]

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry.folder)
        again = register.run(settings, registry.config, run_key="interval-1")

    assert (again.version, again.reused) == (second.version, True)
    assert lineage_tags(registry, second.version) == before
    assert [a.path for a in client.list_artifacts(second.run_id, "governance")] == artifacts


def test_a_retry_after_a_half_finished_record_completes_it(registry):
    settings = registry.settings
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry.folder)
        entry = register.run(settings, registry.config, run_key="interval-2")
    client = tracking.connect(settings)
    # As if the first attempt had stopped before its lineage tags were all set.
    client.delete_model_version_tag(entry.name, entry.version, RECORDED_TAG)
    client.delete_model_version_tag(entry.name, entry.version, "lineage.git_commit")

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry.folder)
        again = register.run(settings, registry.config, run_key="interval-2")

    tags = tracking.version_tags(settings, again.version)
    assert again.reused
    assert {RECORDED_TAG, "lineage.git_commit"} <= set(tags)


def cli_environment(monkeypatch, registry, config_path: Path) -> None:
    settings = registry.settings
    for name, value in {
        "CONFIG_PATH": config_path,
        "DATA_DIR": settings.data_dir,
        "MODELS_DIR": settings.models_dir,
        "REPORTS_DIR": settings.reports_dir,
        "MLFLOW_DIR": settings.mlflow_dir,
    }.items():
        monkeypatch.setenv(ENV_PREFIX + name, str(value))


def test_model_card_command_fetches_a_version(registry, tmp_path, monkeypatch):
    cli_environment(monkeypatch, registry, registry.settings.config_path)

    result = CliRunner().invoke(app, ["model-card", "--version", "1", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "fetched version 1" in result.output
    local = governance.version_folder(registry.settings, "1")
    assert (tmp_path / "lineage.json").read_text() == (local / "lineage.json").read_text()


def test_model_card_render_uses_the_edited_text_and_keeps_the_lineage(
    registry, tmp_path, monkeypatch
):
    configs = tmp_path / "configs"
    shutil.copytree(registry.settings.config_path.parent, configs)
    (configs / "model_card.yaml").write_text("owner: Risk Team <risk@example.com>\n")
    cli_environment(monkeypatch, registry, configs / "pipeline.yaml")
    before = tracking.version_tags(registry.settings, "1")["lineage.record_sha256"]

    result = CliRunner().invoke(app, ["model-card", "--version", "1", "--render"])

    assert result.exit_code == 0, result.output
    card = stored(registry, registry.first, tmp_path / "after") / "model_card.md"
    assert "Owner: Risk Team <risk@example.com>" in card.read_text()
    assert tracking.version_tags(registry.settings, "1")["lineage.record_sha256"] == before


def test_a_version_without_a_record_gets_one_from_its_run(registry, monkeypatch):
    settings = registry.settings
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry.folder)
        entry = register.run(settings, registry.config, run_key="before-governance")
    # As if registered before the layer existed: no governance artifacts, no lineage tags.
    shutil.rmtree(next(settings.mlflow_dir.rglob(f"{entry.run_id}/artifacts/governance")))
    client = tracking.connect(settings)
    for key in tracking.version_tags(settings, entry.version):
        if key.startswith("lineage."):
            client.delete_model_version_tag(entry.name, entry.version, key)
    cli_environment(monkeypatch, registry, settings.config_path)

    result = CliRunner().invoke(app, ["model-card", "--version", entry.version])

    assert result.exit_code == 0, result.output
    assert f"rendered and logged version {entry.version}" in result.output
    tags = tracking.version_tags(settings, entry.version)
    assert tags["lineage.python_version"] == "unknown"  # not known after the fact
    assert tags["lineage.run_id"] == entry.run_id


def test_model_card_command_names_a_missing_version(registry, monkeypatch):
    cli_environment(monkeypatch, registry, registry.settings.config_path)

    result = CliRunner().invoke(app, ["model-card", "--version", "99"])

    assert result.exit_code == 2
    assert "no version 99" in result.output
