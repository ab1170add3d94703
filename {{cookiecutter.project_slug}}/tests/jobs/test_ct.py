"""The continuous-training loop through the `ct` command: real Evidently, real MLflow (SQLite).

A champion trained on calm data; a calm window stops the loop, a drifted labelled batch
retrains and the gate promotes the challenger.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.jobs import ct, generate, pipeline, register
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=3_000, seed=21))


@pytest.fixture(scope="module")
def project(tmp_path_factory, tracked_settings):
    """A project folder with a registered champion; the CLI finds it through the environment."""
    folder = tmp_path_factory.mktemp("ct")
    settings = tracked_settings(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(folder)
        for field in ("data_dir", "models_dir", "reports_dir", "mlflow_dir"):
            patch.setenv(f"{ENV_PREFIX}{field.upper()}", str(getattr(settings, field)))
        patch.setenv(f"{ENV_PREFIX}CONFIG_PATH", str(PROJECT_ROOT / "configs" / "pipeline.yaml"))
        pipeline.run(settings, CONFIG, progress=False)
        register.run(settings, CONFIG)
        yield settings, folder


def batch(folder: Path, name: str, seed: int, drift: float) -> Path:
    config = SyntheticConfig(rows=3_000, seed=seed, drift=drift)
    return generate.run(config, folder / "incoming" / name, progress=False).path


def run_ct(*args: str):
    return CliRunner().invoke(app, ["ct", "--actor", "test", *args])


def test_a_calm_window_stops_the_loop_and_the_champion_stays(project):
    settings, folder = project

    result = run_ct("--current", str(batch(folder, "calm.csv", seed=22, drift=0.0)))

    assert result.exit_code == 0, result.output
    assert "no dataset drift" in result.output
    assert "retrain     skipped: no dataset drift" in result.output
    assert tracking.describe(settings, tracking.CHAMPION).version == "1"
    assert tracking.alias_version(settings, tracking.CHALLENGER) is None
    workspace = result.output.splitlines()[0].split("workspace ")[1]
    assert (folder / workspace / "reports" / "drift" / "summary.json").is_file()


def test_a_drifted_batch_is_retrained_registered_and_promoted(project):
    settings, folder = project
    drifted = batch(folder, "drifted.csv", seed=23, drift=0.8)

    result = run_ct("--current", str(drifted))

    assert result.exit_code == 0, result.output
    assert "DRIFT:" in result.output
    assert "registered  customer-churn version 2 as @challenger" in result.output
    assert "PROMOTED customer-churn version 2 over version 1" in result.output
    champion = tracking.describe(settings, tracking.CHAMPION)
    assert champion.version == "2"
    # The next drift check compares against what the new champion was trained on.
    reference = ct.champion_reference(settings)
    assert reference.table.is_file()
    assert reference.table.parts[-4].startswith("ct-")  # runs/ct-<time>/data/processed/train


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--current", "nope.csv"], "--current nope.csv: no such file or folder"),
        (["--current", "."], "give the labelled batch to retrain on with --data"),
        (["--current", ".", "--data", "nope.csv"], "--data nope.csv: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project, args, message):
    result = run_ct(*args)

    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
