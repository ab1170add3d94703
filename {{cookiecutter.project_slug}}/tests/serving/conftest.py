"""A real MLflow registry (SQLite in a temporary folder) with three versions to serve:

1. the champion, 2. a retrained challenger whose scores differ, 3. a broken model (NaN
weights) that loads but must fail the server's self-check.
"""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.configs import ModelConfig, PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.io.datasets import load_model, read_customers, save_model
from {{ cookiecutter.package_name }}.jobs import pipeline, register
from {{ cookiecutter.package_name }}.reliability.server import setting_overrides
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=3_000, seed=5))
RETRAINED = CONFIG.model_copy(update={"model": ModelConfig(kind="gradient_boosting")})
ADMIN_TOKEN = "admin-secret"
#: Loading imports MLflow and reads the model: seconds here, a minute or more on a machine
#: busy with other suites. The bound only turns a hang into a failure.
READY_SECONDS = 600


@pytest.fixture(scope="session")
def registry(tmp_path_factory, tracked_settings) -> Settings:
    folder = tmp_path_factory.mktemp("serving-registry")
    settings = tracked_settings(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(folder)
        pipeline.run(settings, CONFIG, progress=False)
        register.run(settings, CONFIG)
        broken = load_model(settings.model_file)
        broken.named_steps["classifier"].coef_[:] = np.nan  # loads fine, scores NaN
        pipeline.run(settings, RETRAINED, progress=False)
        register.run(settings, RETRAINED)
        save_model(broken, settings.model_file)
        register.run(settings, RETRAINED)
    return settings


@pytest.fixture(scope="session")
def server_env(registry: Settings) -> dict[str, str | None]:
    """Environment overrides for a `serve` subprocess (reliability.server.ServerProcess) over
    the registry: its SQLite store, and no tracking server from the caller's environment."""
    return {**setting_overrides(mlflow_dir=registry.mlflow_dir), "MLFLOW_TRACKING_URI": None}


@pytest.fixture(scope="session")
def customers(registry: Settings) -> pd.DataFrame:
    """Typed test rows, as the registered models saw them."""
    return read_customers(registry.test_table)[list(INPUT_COLUMNS)].head(300)


@pytest.fixture(scope="session")
def records(customers: pd.DataFrame) -> list[dict]:
    """The same rows as a JSON client sends them (a blank TotalCharges is null)."""
    return json.loads(customers.to_json(orient="records"))


@pytest.fixture(scope="session")
def champion_scores(registry: Settings, customers: pd.DataFrame) -> np.ndarray:
    """What the registered champion answers through MLflow (pyfunc): [[p(stay), p(churn)]]."""
    return np.asarray(tracking.load_model(registry, tracking.CHAMPION).predict(customers))


@pytest.fixture(scope="session")
def make_client(registry: Settings):
    """A TestClient of a fresh app over the registry (enter it with ``with``); keyword
    arguments change the settings."""

    def make(**changes) -> TestClient:
        return TestClient(create_app(registry.model_copy(update=changes)))

    return make


def wait_ready(client: TestClient) -> dict:
    """/ready's answer once loading has finished (ready or refused)."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        answer = client.get("/ready").json()
        if answer["ready"] or "loading" not in answer["reason"]:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"still loading after {READY_SECONDS} s: {answer}")


@pytest.fixture(scope="module")
def client(make_client, tmp_path_factory):
    """The server over the registry's champion, with an admin token and a prediction log."""
    log_dir = Path(tmp_path_factory.mktemp("prediction-log"))
    token = SecretStr(ADMIN_TOKEN)
    with make_client(serve_admin_token=token, prediction_log_dir=log_dir) as client:
        assert wait_ready(client)["ready"]
        client.log_dir = log_dir
        yield client


@pytest.fixture
def ready():
    return wait_ready
