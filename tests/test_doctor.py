"""`doctor` in baked projects: healthy at every stage with the locked environment, and broken
setups (no environment, an empty one, an unreachable tracking server) named, with exit 1."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from types import ModuleType

import pytest
from test_docs import layer_make_targets

from conftest import MANIFEST, QUIET_ENV, bake_ok, free_port

pytestmark = pytest.mark.integration

PACKAGE = "customer_churn"
PREFIX = "CUSTOMER_CHURN_"
TARGET = re.compile(r"^([a-zA-Z0-9_-]+):.*## ", re.MULTILINE)
NO_ENVIRONMENT = "no environment at .venv: run `make setup`"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any tracking URI or project setting of the machine's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(PREFIX) and key not in ("MLFLOW_TRACKING_URI", "PYTHONPATH")
    }
    return {**env, **QUIET_ENV, **extra}


def doctor(python: Path, project: Path, **env: str) -> subprocess.CompletedProcess:
    """The CLI's `doctor --json` with ``python``, from the project's folder."""
    return subprocess.run(
        [str(python), "-m", PACKAGE, "doctor", "--json"],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src"), **env),
        capture_output=True,
        text=True,
        check=False,
    )


def make_doctor(project: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "doctor"],
        cwd=project,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )


def load_layers(project: Path) -> ModuleType:
    """The baked project's table of layers, imported from its file (standard library only)."""
    path = project / "src" / PACKAGE / "core" / "layers.py"
    spec = importlib.util.spec_from_file_location("baked_layers", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stage2(tmp_path_factory) -> Path:
    """A stage-2 bake, a git repository as the hook makes it (DVC needs one)."""
    return bake_ok(tmp_path_factory.mktemp("doctor-stage2") / "out", maturity_stage="2")


def test_the_projects_table_of_layers_is_the_manifests(stage2):
    layers = load_layers(stage2)
    first_stage = {
        layer: min(
            (stage for stage, spec in MANIFEST["stages"].items() if layer in spec["layers"]),
            key=int,
        )
        for layer in MANIFEST["layers"]
    }

    assert [layer.name for layer in layers.LAYERS] == list(MANIFEST["layers"])
    for layer in layers.LAYERS:
        spec = MANIFEST["layers"][layer.name]
        assert (layer.summary, list(layer.requires)) == (spec["summary"], spec["requires"]), layer
        assert layer.stage == first_stage[layer.name], layer
    stage_names = {stage: spec["name"] for stage, spec in MANIFEST["stages"].items()}
    assert stage_names == layers.STAGES
    for choice, answer in layers.CHOICE_COMMANDS:
        assert answer in MANIFEST["choices"][choice]["options"], (choice, answer)


def test_each_layer_brings_the_make_targets_of_its_makefile_block(stage2):
    layers = load_layers(stage2)
    every_answer = {
        layer: {
            target
            for (choice, answer) in layers.CHOICE_COMMANDS
            for target in layers.commands(layer, {choice: answer})
        }
        for layer in MANIFEST["layers"]
    }

    # `run` is a base target that each of these layers redefines.
    by_block = {layer: targets - {"run"} for layer, targets in layer_make_targets().items()}

    assert {layer: targets for layer, targets in every_answer.items() if targets} == by_block


@pytest.mark.parametrize("stage", ["1", "2", "3", "4"])
def test_a_fresh_bake_is_healthy_at_every_stage(tmp_path, project_python, stage):
    project = bake_ok(tmp_path / "out", maturity_stage=stage)
    expected = MANIFEST["stages"][stage]["layers"]

    result = doctor(project_python, project)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["stage"] == stage
    assert report["layers"]["present"] == expected
    assert report["layers"]["absent"] == [
        layer for layer in MANIFEST["layers"] if layer not in expected
    ]
    assert set(report["commands"]) == {"base", *expected}
    targets = set(TARGET.findall((project / "Makefile").read_text()))
    assert {target for listed in report["commands"].values() for target in listed} == targets
    assert all(command.startswith("make upgrade LAYERS=") for command in report["add"].values())
    failed = [check for check in report["checks"] if check["status"] == "FAIL"]
    assert failed == []
    services = [check["message"] for check in report["checks"] if check["group"] == "services"]
    if stage == "1":
        assert services == ["none: no layer present needs a service"]
    else:
        store = project / "mlflow" / "mlflow.db"
        assert services == [
            f"tracking: embedded SQLite store: {store} (not there yet: the first run creates it)",
            "git repository (DVC versions the data in it)",
            f"DVC remote 'local', a folder: {project / 'dvc-remote'} "
            "(not there yet: the first make push creates it)",
        ]


def test_make_doctor_with_the_projects_environment_prints_the_report(stage2, project_python):
    (stage2 / ".venv").symlink_to(project_python.parent.parent, target_is_directory=True)
    try:
        result = make_doctor(stage2)
    finally:
        (stage2 / ".venv").unlink()

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "  OK    stage 2 (operational), from template " in "\n".join(lines)
    assert "    + tracking             register, mlflow-ui" in lines
    assert "                           add: make upgrade LAYERS=serving (or STAGE=3)" in lines
    assert any(line.startswith("  OK    tracking: embedded SQLite store: ") for line in lines)
    assert lines[-1].startswith("healthy, ")


def test_an_unreachable_tracking_server_fails_naming_it(stage2, project_python):
    uri = f"http://127.0.0.1:{free_port()}"

    result = doctor(project_python, stage2, **{PREFIX + "TRACKING_URI": uri})

    assert result.returncode == 1
    failed = [check for check in json.loads(result.stdout)["checks"] if check["status"] == "FAIL"]
    assert [check["group"] for check in failed] == ["services"]
    assert failed[0]["message"].startswith(f"tracking server {uri} did not answer")
    assert f"unset {PREFIX}TRACKING_URI and MLFLOW_TRACKING_URI" in failed[0]["message"]


def test_make_doctor_without_an_environment_says_to_run_setup(tmp_path):
    project = bake_ok(tmp_path / "out", git_init="no")

    result = make_doctor(project)

    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == NO_ENVIRONMENT
    assert not (project / ".venv").exists()  # reported, not installed


def test_make_doctor_in_an_empty_environment_names_what_is_missing(stage2):
    # A venv with nothing installed: the doctor runs on the standard library and reports.
    venv.create(stage2 / ".venv", with_pip=False)
    try:
        result = make_doctor(stage2)
    finally:
        shutil.rmtree(stage2 / ".venv")

    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    missing = next(line for line in result.stdout.splitlines() if "FAIL  missing " in line)
    for package in ("pandas==", "mlflow==", "dvc==", "typer=="):
        assert package in missing
    assert "FAIL  tracking: the settings do not load (No module named 'pydantic" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("BROKEN: ")
