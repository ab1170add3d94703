"""Train and register against a real `mlflow server` on 127.0.0.1, over HTTP, then load."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.io.datasets import read_customers
from {{ cookiecutter.package_name }}.jobs import pipeline, register

pytestmark = [pytest.mark.slow, pytest.mark.integration]

HEALTH_POLLS = 120  # x 0.5 s: the server imports MLflow and migrates a fresh database


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` on SQLite, one worker, in its own process group; stopped by its PID."""
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "server-artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = (tmp_path / "server.log").open("w")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server, tmp_path / "server.log")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def wait_until_healthy(url: str, server: subprocess.Popen, log) -> None:
    for _ in range(HEALTH_POLLS):
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy at {url}: {log.read_text()[-2000:]}")


def test_train_register_and_load_through_a_tracking_server(
    mlflow_server, tmp_path, monkeypatch, tracked_settings
):
    monkeypatch.chdir(tmp_path)
    settings = tracked_settings(
        tmp_path, mlflow_dir=tmp_path / "unused-local-store", tracking_uri=mlflow_server
    )
    config = PipelineConfig(synthetic=SyntheticConfig(rows=2_000, seed=3))
    pipeline.run(settings, config, progress=False)

    entry = register.run(settings, config)
    scores = tracking.load_model(settings).predict(
        read_customers(settings.test_table)[list(INPUT_COLUMNS)].head(20)
    )

    assert (entry.version, entry.alias) == ("1", tracking.CHAMPION)
    assert np.asarray(scores).shape == (20, 2)
    assert ((np.asarray(scores) >= 0) & (np.asarray(scores) <= 1)).all()
    # Artifacts went through the server to its destination, not to a local store.
    assert any((tmp_path / "server-artifacts").rglob("MLmodel"))
    assert not (tmp_path / "unused-local-store").exists()
