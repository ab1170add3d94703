"""Registering with the real MLflow (SQLite store in a temporary folder): runs, aliases, loading."""

import hashlib
import json
import os
import subprocess

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.io.datasets import load_model, read_customers
from {{ cookiecutter.package_name }}.jobs import pipeline, register

pytestmark = pytest.mark.integration

CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=3_000, seed=11))


@pytest.fixture(autouse=True, scope="module")
def _embedded_store():
    """Never a tracking server from the caller's environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tracked_settings):
    """One trained pipeline, registered twice, in a git repository of its own."""
    folder = tmp_path_factory.mktemp("registry")
    settings = tracked_settings(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        (folder / "README").write_text("registry test\n")
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
            git(folder, *command)
        pipeline.run(settings, CONFIG, progress=False)
        first = register.run(settings, CONFIG)
        second = register.run(settings, CONFIG)
    return settings, CONFIG, first, second, folder


def git(folder, *args):
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_first_version_is_champion_and_later_ones_challengers(registry):
    settings, _, first, second, _ = registry

    assert (first.version, first.alias) == ("1", tracking.CHAMPION)
    assert (second.version, second.alias) == ("2", tracking.CHALLENGER)
    assert tracking.describe(settings).version == "1"
    assert json.loads(settings.registered_json.read_text())["version"] == "2"


def test_embedded_store_keeps_runs_and_artifacts_in_mlflow_dir(registry):
    settings, *_, folder = registry

    assert (settings.mlflow_dir / "mlflow.db").is_file()
    assert any((settings.mlflow_dir / "artifacts").rglob("MLmodel"))
    assert not (folder / "mlruns").exists()  # MLflow's default, relative to the working folder
    assert "MLFLOW_TRACKING_URI" not in os.environ  # not left behind for the next Settings


def test_champion_loads_by_alias_and_scores_like_the_trained_model(registry):
    settings, *_ = registry
    rows = read_customers(settings.test_table)[list(INPUT_COLUMNS)].head(50)

    served = tracking.load_model(settings).predict(rows)

    trained = load_model(settings.model_file).predict_proba(rows)
    np.testing.assert_allclose(np.asarray(served), trained, rtol=1e-9)


def test_run_records_params_metrics_data_version_and_commit(registry):
    settings, config, first, _, folder = registry

    params, metrics, tags = tracking.run_data(settings, first.run_id)

    reported = json.loads(settings.metrics_json.read_text())
    raw_md5 = hashlib.md5(settings.raw_table.read_bytes(), usedforsecurity=False).hexdigest()
    assert params["model.kind"] == config.model.kind
    assert float(params["model.logistic_regression.c"]) == config.model.logistic_regression.c
    assert metrics["roc_auc"] == pytest.approx(reported["roc_auc"])
    assert metrics["decision.threshold"] == pytest.approx(reported["decision"]["threshold"])
    assert tags["data_md5"] == raw_md5
    assert tags["git_commit"].split("-")[0] == git(folder, "rev-parse", "HEAD")


def test_logged_model_has_signature_example_and_explicit_requirements(registry, tmp_path):
    settings, *_ = registry
    model = tracking.load_model(settings)

    inputs = model.metadata.get_input_schema().input_names()
    entry = tracking.export_model(settings, tracking.CHAMPION, tmp_path / "champion")
    exported = tmp_path / "champion"
    requirements = (exported / "requirements.txt").read_text().splitlines()

    assert inputs == list(INPUT_COLUMNS)
    assert entry.version == tracking.describe(settings).version
    assert model.metadata.saved_input_example_info is not None
    assert any(line.startswith("scikit-learn==") for line in requirements)
    assert any(line.startswith("skops==") for line in requirements)
    # The package travels with the model, so it loads where the project is not installed.
    assert (exported / "code" / "{{ cookiecutter.package_name }}" / "core" / "features.py").is_file()


def test_same_run_key_reuses_its_version(registry):
    settings, config, *_ = registry

    first = register.run(settings, config, run_key="interval-2026-01-05")
    again = register.run(settings, config, run_key="interval-2026-01-05")

    assert again.version == first.version
    assert again.reused
    assert not first.reused


def test_a_retry_after_a_half_finished_registration_reuses_its_version(registry):
    settings, config, *_ = registry
    first = register.run(settings, config, run_key="interval-2026-02-02")
    client = tracking.connect(settings)
    # As if the first attempt had stopped right after registering: no tags, no alias.
    client.delete_model_version_tag(first.name, first.version, tracking.RUN_KEY_TAG)
    client.delete_registered_model_alias(first.name, first.alias)

    again = register.run(settings, config, run_key="interval-2026-02-02")

    assert again.version == first.version
    assert again.reused
    assert again.alias == tracking.CHALLENGER
