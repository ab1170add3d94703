"""A baked stage-2 project, run for real: the DVC pipeline and remote, the MLflow registry behind
it, and the Airflow DAG in Airflow's own environment."""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import QUIET_ENV, TEMPLATE, bake_ok, free_port

STAGES = ["ingest", "prepare", "train", "evaluate", "register"]
TEST_ROWS = 5_000
DAG_ID = "customer_churn_retraining"
#: Run with the project's Python: what the registry holds, and whether the champion predicts.
REGISTRY_STATE = """
import json
from customer_churn.core.schema import INPUT_COLUMNS
from customer_churn.io import tracking
from customer_churn.io.datasets import read_customers
from customer_churn.settings import Settings

settings = Settings()
client = tracking.connect(settings)
versions = client.search_model_versions(f"name = '{settings.registered_model_name}'")
champion = tracking.describe(settings)
rows = read_customers(settings.test_table)[list(INPUT_COLUMNS)].head(10)
_, _, run_tags = tracking.run_data(settings, champion.run_id)
print(json.dumps({
    "versions": sorted(int(version.version) for version in versions),
    "champion": champion.version,
    "champion_tags": run_tags,
    "scores_shape": list(tracking.load_model(settings).predict(rows).shape),
}))
"""


def run(command: list[str], cwd: Path, env: dict, check: bool = True):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check:
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert result.returncode == 0, f"{command}\n{output}"
    return result


def project_env(python: Path, project: Path) -> dict:
    """The project's Python and dvc first on PATH, as `make` arranges it."""
    env = {key: value for key, value in os.environ.items() if key != "DVC_SITE_CACHE_DIR"}
    env.update(QUIET_ENV)
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(project / "src")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def settled(status: str) -> bool:
    """`dvc status` with nothing to do but ingest, which runs every time (it reads the user's
    CSV, named in settings: DVC cannot see it); the stages after it wait for its table to change."""
    return status.split() == ["ingest:", "always", "changed"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def stage2(tmp_path_factory, project_python):
    """A stage-2 bake (git init by the hook) on small data, committed."""
    project = bake_ok(tmp_path_factory.mktemp("stage2") / "out", maturity_stage="2")
    config = project / "configs" / "pipeline.yaml"
    config.write_text(config.read_text().replace("rows: 50000", f"rows: {TEST_ROWS}"))
    env = project_env(project_python, project)
    run(["git", "commit", "-qam", "Small data for the tests"], project, env)
    return project, env


@pytest.fixture(scope="module")
def reproduced(stage2):
    project, env = stage2
    first = run(["dvc", "repro"], project, env)
    second = run(["dvc", "repro"], project, env)
    status = run(["dvc", "status"], project, env)
    registry = json.loads(run(["python", "-c", REGISTRY_STATE], project, env).stdout)
    return first.stdout, second.stdout, status.stdout, registry


def test_dvc_files_are_what_dvc_init_writes_plus_our_config(
    tmp_path, project_python, default_project
):
    bare = tmp_path / "bare"
    bare.mkdir()
    env = project_env(project_python, bare)
    run(["git", "init", "-q"], bare, env)
    run(["dvc", "init", "-q"], bare, env)
    project = bake_ok(tmp_path / "out", git_init="no", maturity_stage="2")

    for name in (".dvc/.gitignore", ".dvcignore"):
        assert (project / name).read_text() == (bare / name).read_text(), name
    settings = run(["dvc", "config", "--list", "--project"], project, env).stdout.splitlines()
    assert "core.remote=local" in settings
    assert "core.analytics=false" in settings
    assert "core.site_cache_dir=.dvc/tmp/site-cache" in settings
    assert not (default_project / ".dvc").exists()  # stage 1 has no DVC


@pytest.mark.matrix
def test_dvc_repro_runs_every_stage_and_then_nothing(stage2, reproduced):
    project, _ = stage2
    first, second, status, _ = reproduced

    for stage in STAGES:
        assert f"Running stage '{stage}'" in first
    assert re.findall(r"Running stage '(\w+)'", second) == ["ingest"]
    assert settled(status), status
    # DVC's state and index stay in the project, not in a machine-wide folder.
    assert (project / ".dvc" / "tmp" / "site-cache" / "repo").is_dir()
    # MLflow's runs and artifacts stay in mlflow/, which git ignores.
    assert any((project / "mlflow" / "artifacts").rglob("MLmodel"))
    assert not (project / "mlruns").exists()


@pytest.mark.matrix
def test_repro_registers_a_champion_with_data_version_commit_and_params(stage2, reproduced):
    project, env = stage2
    registry = reproduced[3]

    lock = yaml.safe_load((project / "dvc.lock").read_text())
    raw = next(out for out in lock["stages"]["ingest"]["outs"] if out["path"].endswith(".csv"))
    head = run(["git", "rev-parse", "HEAD"], project, env).stdout.strip()
    tags = registry["champion_tags"]
    assert registry["versions"] == [1]
    assert registry["champion"] == "1"
    assert registry["scores_shape"] == [10, 2]
    assert tags["data_md5"] == raw["md5"]
    assert tags["git_commit"].startswith(head)
    assert json.loads((project / "reports" / "registered.json").read_text())["alias"] == "champion"


@pytest.mark.matrix
def test_exp_run_with_a_new_hyper_parameter_changes_the_metrics(stage2, reproduced):
    project, env = stage2
    before = json.loads((project / "reports" / "metrics.json").read_text())

    new_c = "configs/pipeline.yaml:model.logistic_regression.c=0.001"
    result = run(["dvc", "exp", "run", "--set-param", new_c], project, env)

    after = json.loads((project / "reports" / "metrics.json").read_text())
    assert "Running stage 'train'" in result.stdout
    assert "Running stage 'prepare'" not in result.stdout  # data unchanged, not prepared again
    assert after["brier"] != before["brier"]
    assert after["roc_auc"] != before["roc_auc"]
    registry = json.loads(run(["python", "-c", REGISTRY_STATE], project, env).stdout)
    assert registry["versions"] == [1, 2]  # the experiment's model is a challenger
    assert registry["champion"] == "1"


@pytest.mark.matrix
def test_push_then_pull_restores_every_output_byte_for_byte(stage2, reproduced):
    project, env = stage2
    outputs = [
        project / "data" / "raw" / "customers.csv",
        project / "data" / "processed" / "train.csv",
        project / "data" / "processed" / "test.csv",
        project / "models" / "model.joblib",
    ]
    before = {path: sha256(path) for path in outputs}

    run(["dvc", "push"], project, env)
    for path in outputs:
        path.unlink()
    subprocess.run(["rm", "-rf", str(project / ".dvc" / "cache")], check=True)
    run(["dvc", "pull"], project, env)

    assert {path: sha256(path) for path in outputs} == before
    assert any((project / "dvc-remote").rglob("*"))
    assert settled(run(["dvc", "status"], project, env).stdout)


@pytest.fixture(scope="module")
def airflow_env(stage2, airflow_python, project_python, tmp_path_factory):
    """Airflow's venv with a migrated database; tasks run the project's jobs with its Python."""
    project, env = stage2
    env = {
        **env,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow-home")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CUSTOMER_CHURN_PYTHON": str(project_python),
        "CUSTOMER_CHURN_RETRIES": "1",
        "CUSTOMER_CHURN_RETRY_DELAY_SECONDS": "1",
    }
    run([str(airflow_python.parent / "airflow"), "db", "migrate"], project, env)
    return env


def dag_test(airflow_python: Path, project: Path, env: dict, day: str) -> dict:
    check = TEMPLATE / "tests" / "airflow_check.py"
    command = [str(airflow_python), str(check), str(project / "dags"), DAG_ID, day]
    result = run(command, project, env)
    line = next(line for line in result.stdout.splitlines() if line.startswith("AIRFLOW_CHECK "))
    return json.loads(line.removeprefix("AIRFLOW_CHECK "))


@pytest.mark.matrix
def test_dag_parses_and_one_run_executes_every_task_and_registers(
    stage2, airflow_env, airflow_python, reproduced
):
    project, env = stage2
    versions_before = json.loads(run(["python", "-c", REGISTRY_STATE], project, env).stdout)

    report = dag_test(airflow_python, project, airflow_env, "2026-01-12")

    versions_after = json.loads(run(["python", "-c", REGISTRY_STATE], project, env).stdout)
    assert report["import_errors"] == {}
    assert report["dag_ids"] == [DAG_ID]
    assert report["state"] == "success"
    assert set(report["tasks"]) == {"ingest", "validate", "train", "evaluate", "register"}
    assert {task["state"] for task in report["tasks"].values()} == {"success"}
    assert len(versions_after["versions"]) == len(versions_before["versions"]) + 1
    assert (project / "runs" / "20260112" / "reports" / "metrics.json").is_file()


@pytest.mark.matrix
def test_a_failing_task_is_retried_and_the_run_fails_without_registering(
    stage2, airflow_env, airflow_python, reproduced
):
    project, env = stage2
    versions_before = json.loads(run(["python", "-c", REGISTRY_STATE], project, env).stdout)
    # A file where the run's models folder belongs: training cannot save its model.
    blocked = project / "runs" / "20260119" / "models"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder\n")

    report = dag_test(airflow_python, project, airflow_env, "2026-01-19")

    versions_after = json.loads(run(["python", "-c", REGISTRY_STATE], project, env).stdout)
    tasks = report["tasks"]
    assert report["state"] == "failed"
    assert tasks["validate"]["state"] == "success"
    assert tasks["train"] == {"state": "failed", "try_number": 2}  # first try and one retry
    assert tasks["register"]["state"] == "upstream_failed"
    assert versions_after["versions"] == versions_before["versions"]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def poll_json(url: str, tries: int, delay: float) -> dict:
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(delay)
    pytest.fail(f"no answer from {url}")


@pytest.mark.matrix
def test_make_airflow_serves_on_localhost_and_airflow_stop_ends_its_process_group(
    stage2, airflow_python, tmp_path
):
    project, env = stage2
    # The venvs exist already: stamps newer than the pins stand in for `make airflow-setup`.
    stamps = [tmp_path / "airflow.installed", tmp_path / "project.installed"]
    for stamp in stamps:
        stamp.touch()
    home, port = tmp_path / "airflow-home", free_port()
    home.mkdir()
    args = [
        f"AIRFLOW_VENV={airflow_python.parent.parent}",
        f"AIRFLOW_INSTALLED={stamps[0]}",
        f"INSTALLED={stamps[1]}",
        f"AIRFLOW_HOME={home}",
        f"AIRFLOW_PORT={port}",
    ]

    started = run(["make", "airflow", *args], project, env)
    pgid = int((home / "standalone.pid").read_text())
    try:
        health = poll_json(f"http://127.0.0.1:{port}/api/v2/monitor/health", tries=90, delay=2)
    finally:
        stopped = run(["make", "airflow-stop", *args], project, env, check=False)
        for _ in range(30):
            if not group_alive(pgid):
                break
            time.sleep(1)
        else:
            os.killpg(pgid, signal.SIGKILL)

    assert "make airflow-stop" in started.stdout
    assert health["scheduler"]["status"] == "healthy"
    assert health["metadatabase"]["status"] == "healthy"
    assert stopped.returncode == 0
    assert not group_alive(pgid)
    assert not (home / "standalone.pid").exists()


@pytest.mark.parametrize(
    ("target", "variable"), [("airflow", "AIRFLOW_PORT"), ("mlflow-ui", "MLFLOW_PORT")]
)
def test_a_taken_port_stops_the_ui_targets_with_one_clear_line(stage2, tmp_path, target, variable):
    """Neither tool fails on a taken port by itself (mlflow server exits 0, airflow standalone
    runs in the background): the Makefile checks first."""
    project, env = stage2
    stamp = tmp_path / "installed"
    stamp.touch()
    home = tmp_path / "airflow-home"
    home.mkdir()
    args = [f"INSTALLED={stamp}", f"AIRFLOW_INSTALLED={stamp}", f"AIRFLOW_HOME={home}"]
    store = project / "mlflow"
    store_before = store.exists()  # the slow tests' runs create it
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(["make", target, *args, f"{variable}={port}"], project, env, check=False)

    assert result.returncode != 0
    message = f"port {port} is already in use: stop what listens there, or pick another with"
    assert f"{message} {variable}=" in result.stderr
    assert not (home / "standalone.pid").exists()
    assert store.exists() == store_before
