"""A real MLflow registry (SQLite in a temporary folder) inside a git repository of its own,
with two versions registered through ``register.run``, as every caller registers."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.io.tracking import RegisteredModel
from {{ cookiecutter.package_name }}.jobs import pipeline, register
from {{ cookiecutter.package_name }}.settings import Settings

CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=3_000, seed=13))
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Registry:
    settings: Settings
    config: PipelineConfig
    first: RegisteredModel
    second: RegisteredModel
    #: The git repository the versions were registered from, and its HEAD then.
    folder: Path
    commit: str


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="session")
def registry(tmp_path_factory, tracked_settings) -> Registry:
    folder = tmp_path_factory.mktemp("governed")
    settings = tracked_settings(folder, config_path=PROJECT_ROOT / "configs" / "pipeline.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(folder)
        (folder / "README").write_text("governance test\n")
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
            git(folder, *command)
        pipeline.run(settings, CONFIG, progress=False)
        first = register.run(settings, CONFIG)
        second = register.run(settings, CONFIG, run_key="interval-1")
    return Registry(settings, CONFIG, first, second, folder, git(folder, "rev-parse", "HEAD"))
