"""The Kubeflow Pipelines variant (orchestrator=kubeflow), compiled for real: the kfp SDK in its
own venv (requirements/kfp-constraints.txt, as a project's `make kfp-setup` makes it) compiles a
baked project's pipelines offline, and the pipeline YAML runs the project's own job commands in
the project's image. No cluster: the compiled steps' shell commands then run here, in order, with
the project's Python, and the retraining one registers a model."""

import itertools
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import (
    PROJECT_TEMPLATE,
    QUIET_ENV,
    TEMPLATE,
    assert_suite_passed,
    bake_ok,
    cached_venv,
    project_files,
    run_project_tests,
)

KFP_CONSTRAINTS = PROJECT_TEMPLATE / "requirements" / "kfp-constraints.txt"
KFP_VENV = TEMPLATE / ".cache" / "kfp-venv"
PACKAGE = "customer_churn"
RETRAINING = ["generate", "prepare", "train", "evaluate", "register"]
IMAGE = "registry.example/churn/jobs:1.2.3"


@pytest.fixture(scope="module")
def kfp_python() -> Path:
    """The kfp SDK's own venv, pinned as a project's `make kfp-setup` pins it."""
    return cached_venv(KFP_VENV, KFP_CONSTRAINTS, ["kfp"])


@pytest.fixture(scope="module", params=["2", "4"])
def kubeflow_project(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(f"kubeflow-{request.param}") / "out"
    return bake_ok(out, maturity_stage=request.param, git_init="no", orchestrator="kubeflow")


def compile_pipelines(kfp_python: Path, project: Path, out: Path, **env: str) -> dict[str, dict]:
    """`python pipelines/compile.py OUT`, as `make kfp-compile` runs it: each pipeline's spec."""
    done = subprocess.run(
        [str(kfp_python), "pipelines/compile.py", str(out)],
        cwd=project,
        env={**os.environ, **QUIET_ENV, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    specs = {}
    for path in sorted(out.glob("*.yaml")):
        # Document 1: the pipeline spec (IR); document 2: the Kubernetes platform spec.
        spec, platform = yaml.safe_load_all(path.read_text())
        specs[path.stem] = {**spec, "platform": platform}
    return specs


def job_command(executor: dict) -> str:
    """What a step runs, as a shell line: the script's python call with the step's arguments."""
    command, args = executor["container"]["command"], executor["container"]["args"]
    assert command[:2] == ["sh", "-c"]
    assert f'exec python -m {PACKAGE} "$@"' in command[2]
    return " ".join(["python", "-m", PACKAGE, *args[1:]])  # args[0]: the workspace


def stage(project: Path) -> str:
    return "4" if (project / "src" / PACKAGE / "jobs" / "promote.py").exists() else "2"


def test_kubeflow_bake_has_pipelines_and_no_airflow_files(kubeflow_project):
    files = project_files(kubeflow_project)
    pipelines = {path for path in files if path.startswith("pipelines/")}
    expected = {f"pipelines/{name}.py" for name in ("compile", "project_components", "retraining")}
    if stage(kubeflow_project) == "4":
        expected.add("pipelines/monitoring.py")

    assert pipelines == expected
    assert {"requirements/kfp-constraints.txt", "tests/test_pipelines.py"} <= files
    assert not [path for path in files if path.startswith("dags/") or "airflow" in path]
    for name in ("Makefile", "README.md", ".gitignore"):
        assert "airflow" not in (kubeflow_project / name).read_text().lower(), name
    assert "/.venv-kfp/" in (kubeflow_project / ".gitignore").read_text()
    if stage(kubeflow_project) == "4":
        ci = (kubeflow_project / ".github" / "workflows" / "ci.yml").read_text()
        assert "make kfp-compile" in ci
        assert "airflow" not in ci.lower()


def test_retraining_compiles_to_the_project_jobs_in_order_in_the_project_image(
    kubeflow_project, kfp_python, tmp_path
):
    specs = compile_pipelines(kfp_python, kubeflow_project, tmp_path, CUSTOMER_CHURN_IMAGE=IMAGE)
    spec = specs["retraining"]
    executors = spec["deploymentSpec"]["executors"]
    tasks = spec["root"]["dag"]["tasks"]
    steps = ["ingest", "validate", "train", "evaluate", "register"]
    jobs = list(RETRAINING)
    if stage(kubeflow_project) == "4":
        steps.append("promote")
        jobs.append("promote")

    assert set(specs) == ({"retraining", "monitoring"} if len(jobs) == 6 else {"retraining"})
    assert spec["pipelineInfo"]["name"] == "customer-churn-retraining"
    assert set(tasks) == set(steps)
    for before, step in itertools.pairwise(steps):
        assert tasks[step]["dependentTasks"] == [before]
        assert tasks[step]["retryPolicy"]["maxRetryCount"] == 2
    commands = [job_command(executors[f"exec-{step}"]) for step in steps]
    for job, command in zip(jobs, commands, strict=True):
        assert command.startswith(f"python -m {PACKAGE} {job}"), command
    assert "--run-key customer_churn_retraining-{{$.inputs.parameters['run_key']}}" in commands[4]
    for executor in executors.values():
        assert executor["container"]["image"] == IMAGE
        env = {item["name"]: item["value"] for item in executor["container"]["env"]}
        assert env["CUSTOMER_CHURN_TRACKING_URI"] == "http://mlflow:5000"
    assert spec["platform"]["platforms"]["kubernetes"]["pipelineConfig"]["workspace"]["size"]


def test_default_image_is_the_projects_placeholder(kubeflow_project, kfp_python, tmp_path):
    env = {"CUSTOMER_CHURN_IMAGE": ""}
    environment = {key: value for key, value in os.environ.items() if key not in env}
    done = subprocess.run(
        [str(kfp_python), "pipelines/compile.py", str(tmp_path)],
        cwd=kubeflow_project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    images = {line.strip() for line in (tmp_path / "retraining.yaml").read_text().splitlines()}

    assert "image: ghcr.io/OWNER/customer-churn-training:latest" in images


@pytest.mark.parametrize("kubeflow_project", ["4"], indirect=True)
def test_monitoring_runs_retraining_only_when_the_drift_job_exits_3(
    kubeflow_project, kfp_python, tmp_path
):
    spec = compile_pipelines(kfp_python, kubeflow_project, tmp_path)["monitoring"]
    check = spec["deploymentSpec"]["executors"]["exec-check-drift"]["container"]
    root = spec["root"]["dag"]["tasks"]
    (condition,) = [task for name, task in root.items() if name.startswith("condition-")]
    inner = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    retraining = spec["components"]["comp-customer-churn-retraining"]["dag"]["tasks"]

    assert "set -- drift" in check["command"][2]
    assert f'python -m {PACKAGE} "$@"; code=$?' in check["command"][2]
    assert "if [ $code -eq 3 ]; then printf true" in check["command"][2]
    assert "elif [ $code -eq 0 ]; then printf false" in check["command"][2]
    assert "else exit $code; fi" in check["command"][2]
    assert condition["dependentTasks"] == ["check-drift"]
    assert condition["triggerPolicy"]["condition"].endswith("== 'true'")
    assert inner["customer-churn-retraining"]["inputs"]["parameters"]["trigger"] == {
        "runtimeValue": {"constant": "drift"}
    }
    assert set(retraining) == {"ingest", "validate", "train", "evaluate", "register", "promote"}


def test_baked_project_pipeline_tests_pass(kubeflow_project, project_python):
    done = run_project_tests(project_python, kubeflow_project, "tests/test_pipelines.py")

    summary = assert_suite_passed(done)
    assert summary.startswith("3 passed" if stage(kubeflow_project) == "4" else "2 passed")


def run_step(executor: dict, project: Path, env: dict[str, str], **inputs: str) -> None:
    """One compiled step, as its pod would run it: the container's command and arguments, the
    placeholders replaced by this run's values, the project's Python as the image's."""
    container = executor["container"]
    args = [
        re.sub(r"\{\{\$\.inputs\.parameters\['(\w+)'\]\}\}", lambda m: inputs[m[1]], arg)
        for arg in container["args"]
    ]
    step_env = {item["name"]: item["value"] for item in container["env"]}
    done = subprocess.run(
        [*container["command"], *args],
        cwd=project,
        env={**os.environ, **QUIET_ENV, **step_env, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"


@pytest.mark.matrix  # runs every job of the pipeline: about a minute
@pytest.mark.parametrize("kubeflow_project", ["2"], indirect=True)
def test_compiled_retraining_steps_run_the_jobs_and_register(
    kubeflow_project, kfp_python, project_python, tmp_path
):
    spec = compile_pipelines(kfp_python, kubeflow_project, tmp_path / "yaml")["retraining"]
    executors = spec["deploymentSpec"]["executors"]
    workspace = tmp_path / "workspace"
    config = tmp_path / "pipeline.yaml"
    text = (kubeflow_project / "configs" / "pipeline.yaml").read_text()
    config.write_text(text.replace("rows: 50000", "rows: 4000", 1))
    env = {
        # The image's python: the project's venv leads PATH.
        "PATH": f"{project_python.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(kubeflow_project / "src"),
        "CUSTOMER_CHURN_CONFIG_PATH": str(config),
        # The embedded store (SQLite) stands in for the tracking server the YAML names.
        "CUSTOMER_CHURN_TRACKING_URI": "",
        "CUSTOMER_CHURN_MLFLOW_DIR": str(tmp_path / "mlflow"),
    }

    for step in ("ingest", "validate", "train", "evaluate", "register", "register"):
        run_step(
            executors[f"exec-{step}"],
            kubeflow_project,
            env,
            workspace=str(workspace),
            seed="7",
            run_key="run-1",
        )

    run = workspace / "run"
    assert (run / "data" / "processed" / "train.csv").is_file()
    assert (run / "models" / "model.joblib").is_file()
    assert (run / "reports" / "metrics.json").is_file()
    assert (run / "reports" / "registered.json").is_file()
    assert not (kubeflow_project / "data").exists()  # everything went to the run's folder
    versions = subprocess.run(
        [
            str(project_python),
            "-c",
            "from customer_churn.io import tracking; from customer_churn.settings import Settings;"
            "s = Settings(); c = tracking.connect(s);"
            "print(len(c.search_model_versions(f\"name = '{s.registered_model_name}'\")))",
        ],
        cwd=kubeflow_project,
        env={**os.environ, **QUIET_ENV, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert versions.stdout.strip() == "1"  # the retried register step reused its version
