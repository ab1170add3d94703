"""The team stack of a stage-4 bake, as its README brings it up: `make stack-up` (Compose v1 here,
Debian's docker-compose 1.29.2) on stand-ins for the registry images (tests/containers.py), then
a model trained and registered by the training container through the MLflow container
(PostgreSQL and S3), served by the serving container as @champion, the drift job reading the
prediction log's volume in the Airflow worker, and `make stack-down` keeping the volumes.

Marked ``containers`` (make test-containers). Stand-ins, named in the output: every registry
image; PyTorch's CPU wheel index (a local index of the same wheel: TORCH_INDEX_URL in stack.env,
for the Airflow image); the training image is built on the Python base, as its header documents
for CPUs, with the stand-in's Python (3.11.2, so PYTHON_VERSION=3.11), not on the CUDA base.
"""

import base64
import json
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import containers
from conftest import bake_ok
from test_containers import call
from test_stage2 import project_env

#: The drift job wants monitoring.min_rows (200) rows in a window.
PREDICTIONS = 250
#: The training container's run: small data, the default model (the serving image has no torch).
SMALL_RUN = """\
synthetic: {rows: 3000}
evaluation: {importance_rows: 200, importance_repeats: 1}
"""
#: The raw table's complete rows (blank TotalCharges, as in the real data, are left out) as JSON
#: records: a client's requests.
ROWS = """
import sys
import pandas as pd
from {package}.core.schema import INPUT_COLUMNS
rows = pd.read_csv(sys.argv[1], na_values=[" "]).dropna()[list(INPUT_COLUMNS)]
rows = rows.head(int(sys.argv[2]))
sys.stdout.write(rows.to_json(orient="records"))
"""
#: The images compose.yaml builds (make stack-up).
BUILT = ("serving", "mlflow", "airflow")
#: Only guards against a hang: the stack answers within minutes.
UP_SECONDS = 600


def stack_env(project: Path, torch_index: str) -> None:
    """stack.env as its example asks: every name a random value (a Fernet key for Airflow's),
    and the stand-in torch index."""
    lines = []
    for line in (project / "stack.env.example").read_text().splitlines():
        if re.fullmatch(r"[A-Z][A-Z0-9_]*=", line):
            key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
            line += key if line.startswith("AIRFLOW_FERNET_KEY") else secrets.token_hex(16)
        lines.append(line)
    lines.append(f"TORCH_INDEX_URL={torch_index}")
    (project / "stack.env").write_text("\n".join(lines) + "\n")


def settings(project: Path) -> dict[str, str]:
    text = (project / "stack.env").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.+)$", text, re.MULTILINE))


def wait_for(url: str) -> None:
    deadline = time.monotonic() + UP_SECONDS
    while True:
        try:
            urllib.request.urlopen(url, timeout=10).close()
            return
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, f"{url} did not answer in {UP_SECONDS} s"
            time.sleep(1)


def make(project: Path, target: str) -> float:
    started = time.monotonic()
    done = subprocess.run(["make", target], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return time.monotonic() - started


def service(project: Path, name: str) -> str:
    """The id of the stack's container of a compose service."""
    labels = [
        f"label=com.docker.compose.{key}" for key in (f"project={project.name}", f"service={name}")
    ]
    found = containers.docker("ps", "-q", *(f"--filter={label}" for label in labels)).stdout.split()
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def telco_rows(project: Path, python: Path, table: Path) -> list[dict]:
    """PREDICTIONS synthetic Telco-schema rows from the project's generator, as JSON records."""
    package = project.name.replace("-", "_")
    generate = [str(python), "-m", package, "generate", "--quiet", "--seed", "7"]
    generate += ["--rows", str(2 * PREDICTIONS), "--output", str(table)]
    env = project_env(python, project)
    subprocess.run(generate, cwd=project, env=env, capture_output=True, check=True)
    script = ROWS.format(package=package)
    read = [str(python), "-c", script, str(table), str(PREDICTIONS)]
    return json.loads(subprocess.run(read, env=env, capture_output=True, check=True).stdout)


@pytest.mark.containers
def test_the_stack_trains_registers_serves_the_champion_and_checks_drift(
    engine, tmp_path, project_python, record_property
):
    project = bake_ok(tmp_path / "out", maturity_stage="4", git_init="no")
    package = project.name.replace("-", "_")
    prefix = package.upper() + "_"
    for standin in containers.stack_images(project):
        started = time.monotonic()
        if containers.build_standin(standin):
            record_property(f"time stand-in {standin.image}", time.monotonic() - started)
        record_property(f"figure base {standin.image}", containers.describe(standin.image))
    volumes = set(containers.docker("volume", "ls", "-q").stdout.split())
    training = f"{project.name}-training:cpu"
    config = tmp_path / "pipeline.yaml"
    config.write_text(SMALL_RUN)
    config.chmod(0o644)
    try:
        with containers.torch_index() as index:
            stack_env(project, index)
            started = time.monotonic()
            build = containers.docker(
                "build", "-f", "docker/training.Dockerfile", "-t", training,
                "--build-arg", "BASE_IMAGE=" + containers.base_images(project)[0].image,
                "--build-arg", f"TORCH_INDEX_URL={index}", "--build-arg", "NPROC_PER_NODE=1",
                "--build-arg", "PYTHON_VERSION=3.11", ".",
                cwd=project, check=False,
            )  # fmt: skip
            assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
            record_property("time training image build (CPU)", time.monotonic() - started)
            record_property("time make stack-up (images built)", make(project, "stack-up"))
        for url in ("5000/health", "8000/health", "8080/api/v2/version"):
            wait_for(f"http://127.0.0.1:{url}")
        secrets_ = settings(project)
        images = {
            name: containers.docker("image", "inspect", "--format", "{{.Size}}", name).stdout
            for name in (training, *(f"{project.name}-{kind}:local" for kind in BUILT))
        }  # fmt: skip
        for name, size in images.items():
            record_property(f"figure image {name}", f"{int(size) / 1e9:.2f} GB")

        networks = "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}"
        mlflow = service(project, "mlflow")
        network = containers.docker("inspect", "--format", networks, mlflow).stdout.strip()
        started = time.monotonic()
        trained = containers.docker(
            "run", "--rm", "--network", network,
            "-e", f"{prefix}TRACKING_URI=http://mlflow:5000",
            "-e", f"{prefix}CONFIG_PATH=/config/pipeline.yaml",
            "-v", f"{config}:/config/pipeline.yaml:ro", training, check=False,
        )  # fmt: skip
        record_property("time training container run", time.monotonic() - started)
        assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
        assert f"registered {project.name} version 1 as @champion" in trained.stdout

        admin = {"authorization": f"Bearer {secrets_[prefix + 'SERVE_ADMIN_TOKEN']}"}
        reloaded = call("http://127.0.0.1:8000/admin/reload", {}, admin)
        ready = call("http://127.0.0.1:8000/ready")
        rows = telco_rows(project, project_python, tmp_path / "rows.csv")
        key = {"x-api-key": secrets_[prefix + "SERVE_API_KEY"]}
        answers = [call("http://127.0.0.1:8000/predict", row, key)[0] for row in rows]
        unauthorised = call("http://127.0.0.1:8000/predict", rows[0])[0]
        login = {"username": secrets_["AIRFLOW_ADMIN_USER"]}
        login["password"] = secrets_["AIRFLOW_ADMIN_PASSWORD"]
        airflow_token = call("http://127.0.0.1:8080/auth/token", login)
        wrong = call("http://127.0.0.1:8080/auth/token", {**login, "password": "wrong"})[0]

        worker = ["exec", "--workdir", "/opt/project", service(project, "airflow-worker")]
        job = ["/opt/project-venv/bin/python", "-m", package]
        reference = [*job, "generate", "--quiet", "--rows", "2000", "--output", "/tmp/ref.csv"]
        containers.docker(*worker, *reference)
        drift = containers.docker(
            *worker, "sh", "-c", " ".join([*job, "drift", "--quiet", "--no-log", "--reference",
            "/tmp/ref.csv", "--current", f'"${prefix}DRIFT_WINDOW"', "--out", "/tmp/drift"]),
            check=False,
        )  # fmt: skip
        summary = containers.docker(*worker, "cat", "/tmp/drift/summary.json", check=False)

        record_property("time make stack-down", make(project, "stack-down"))
        label = f"label=com.docker.compose.project={project.name}"
        kept = containers.docker("volume", "ls", "-q", "--filter", label).stdout.split()
        record_property("time make stack-up (again)", make(project, "stack-up"))
        wait_for("http://127.0.0.1:5000/health")
        alias = "http://127.0.0.1:5000/api/2.0/mlflow/registered-models/alias"
        champion = call(f"{alias}?name={project.name}&alias=champion")
    finally:
        compose = ["docker-compose"]
        if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
            compose = ["docker", "compose"]
        down = [*compose, "--env-file", "stack.env", "down", "--volumes"]
        subprocess.run(down, cwd=project, capture_output=True, check=False)
        built = [f"{project.name}-{kind}:local" for kind in BUILT]
        containers.docker("image", "rm", "--force", training, *built, check=False)
        # down --volumes misses the one-shot postgres containers' anonymous volumes (its image
        # declares one) of the first stack-up, whose containers stack-down removed.
        left = set(containers.docker("volume", "ls", "-q").stdout.split()) - volumes
        containers.docker("volume", "rm", *left, check=False)

    assert reloaded[0] == 200, reloaded
    assert ready == (200, {"ready": True, "model_version": "1"})
    assert answers == [200] * PREDICTIONS
    assert unauthorised == 401
    assert airflow_token[0] == 201, airflow_token  # a JWT for the admin of stack.env
    assert airflow_token[1]["access_token"]
    assert wrong == 401
    assert drift.returncode in (0, 3), drift.stdout[-2000:] + drift.stderr[-2000:]  # 3: drift
    verdict = json.loads(summary.stdout)
    assert verdict["current_rows"] == PREDICTIONS  # the prediction log's volume, read-only
    assert {f"{project.name}_{name}" for name in ("postgres-data", "predictions", "audit")} <= set(
        kept
    ), kept
    assert champion[1]["model_version"]["version"] == "1"  # PostgreSQL kept the registry
