"""Train and register against a real `mlflow server` on 127.0.0.1, over HTTP, then load; and
the faults: no server at the URI, a server whose artifact store fails mid-registration."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.io.datasets import read_customers
from {{ cookiecutter.package_name }}.jobs import pipeline, register
from {{ cookiecutter.package_name }}.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

#: It imports MLflow and migrates a fresh database: ~11 s on an idle 2-core machine, over a minute
#: on one busy with two test suites. The bound only turns a hung server into a failure.
STARTUP_SECONDS = 600
PREFIX = "{{ cookiecutter.package_name|upper }}_"
LOCATIONS = {"data_dir": "data", "models_dir": "models", "reports_dir": "reports"}


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
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # as make mlflow-ui: no 7 job processes
    }
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
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    tail = log.read_text()[-2000:]
    pytest.fail(f"mlflow server not healthy at {url} in {STARTUP_SECONDS} s: {tail}")


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project folder with a trained, evaluated model, ready to register."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        config = PipelineConfig(synthetic=SyntheticConfig(rows=2_000, seed=3))
        pipeline.run(project_settings(folder), config, progress=False)
    return folder


def project_settings(folder: Path, **overrides: Any) -> Settings:
    locations: dict[str, Any] = {field: folder / name for field, name in LOCATIONS.items()}
    return Settings(**(locations | {"input_csv": None} | overrides))


def command(folder: Path, tracking_uri: str, *args: str, **settings: str):
    """The CLI (``args``) in a process of its own, with settings as environment variables;
    MLflow's own retry variables are left to the settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_HTTP_REQUEST_", PREFIX)) and key != "MLFLOW_TRACKING_URI"
    }
    env |= {PREFIX + field.upper(): str(folder / name) for field, name in LOCATIONS.items()}
    env[PREFIX + "TRACKING_URI"] = tracking_uri
    env[PREFIX + "CONFIG_PATH"] = str(Path(__file__).resolve().parents[2] / "configs/pipeline.yaml")
    env |= {PREFIX + name.upper(): value for name, value in settings.items()}
    cli = [sys.executable, "-m", "{{ cookiecutter.package_name }}", *args]
    return subprocess.run(cli, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


CREDENTIALS = "alice:s3cret"  # pragma: allowlist secret


def test_an_unreachable_server_is_retried_then_one_line_and_nothing_registered(trained):
    uri = f"http://{CREDENTIALS}@127.0.0.1:{free_port()}"  # nothing listens there

    started = time.monotonic()
    result = command(trained, uri, "register", tracking_retries="2", tracking_backoff_s="0.05")
    elapsed = time.monotonic() - started

    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert "did not answer after 3 attempts (Connection refused)" in line
    assert f"http://***@127.0.0.1:{uri.rsplit(':', 1)[1]}" in line
    assert "TRACKING_URI" in line  # what to do about it
    assert result.stderr.count("did not answer (Connection refused), attempt") == 2
    assert "s3cret" not in result.stderr + result.stdout  # credentials never shown
    assert "Traceback" not in result.stderr
    assert not (trained / "reports" / "registered.json").exists()
    print(f"3 attempts against a closed port: {elapsed:.1f} s (process start included)")


def test_run_register_checks_the_server_before_training(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"

    result = command(tmp_path, uri, "run", "--register", tracking_retries="0")

    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert f"tracking server {uri} did not answer after 1 attempt (Connection refused)" in line
    assert not (tmp_path / "data").exists()  # nothing generated, trained or written
    assert not (tmp_path / "models").exists()


def test_a_failed_model_upload_registers_no_version(trained, mlflow_server, tmp_path):
    settings = project_settings(trained, tracking_uri=mlflow_server)
    # connect() creates the experiment: its artifact folder is known before the run.
    experiment = tracking.connect(settings).get_experiment_by_name(settings.experiment_name)
    assert experiment is not None
    # The run's reports upload fine; the model's folder cannot be created (a file is there).
    store = tmp_path / "server-artifacts" / experiment.experiment_id
    store.mkdir(parents=True, exist_ok=True)
    (store / "models").write_text("not a folder")

    result = command(trained, mlflow_server, "register", tracking_retries="0")

    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith(f"error: cannot register {settings.registered_model_name} at ")
    assert "Traceback" not in result.stderr
    client = tracking.connect(settings)
    assert client.search_model_versions(f"name = '{settings.registered_model_name}'") == []
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert [item.path for item in client.list_artifacts(run.info.run_id)] == ["reports"]
    assert not (trained / "reports" / "registered.json").exists()


def test_uris_are_shown_without_credentials():
    with_colons = CREDENTIALS + ":and:more"  # a password may hold colons
    assert tracking.safe_uri(f"https://{with_colons}@mlflow.example.com/x") == (
        "https://***@mlflow.example.com/x"
    )
    assert tracking.safe_uri("failed: http://t0ken@h:5000/api and http://h:1") == (
        "failed: http://***@h:5000/api and http://h:1"
    )
    assert tracking.safe_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
