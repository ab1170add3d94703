"""A baked project's own `make setup`, as a user runs it: uv by default (installed into .venv
first where no uv is on PATH), pip alone with INSTALLER=pip; both give the locked versions."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import bake_ok, user_env

pytestmark = pytest.mark.integration
#: What each installer seeds of its own; everything else must be the same in both venvs.
INSTALLERS = {"pip", "setuptools", "uv", "wheel"}
#: Run with a venv's Python: {normalised name: version} of every distribution installed.
FREEZE = """import importlib.metadata, json
print(json.dumps({
    d.name.lower().replace("_", "-"): d.version for d in importlib.metadata.distributions()
}))"""


def setup(project: Path, *args: str) -> dict[str, str]:
    """`make setup` in ``project``; the versions installed in its .venv."""
    done = subprocess.run(
        ["make", "setup", *args], cwd=project, env=user_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (project / ".venv" / ".installed").exists()
    python = project / ".venv" / "bin" / "python"
    versions = subprocess.run([python, "-c", FREEZE], capture_output=True, text=True, check=True)
    return json.loads(versions.stdout)


def locked(project: Path) -> dict[str, str]:
    lines = (project / "requirements" / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name.lower().replace("_", "-"): version for name, version in pins}


@pytest.fixture(scope="module")
def with_uv(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    project = bake_ok(tmp_path_factory.mktemp("uv") / "out", git_init="no")
    return project, setup(project)


def test_make_setup_installs_the_locked_versions_with_uv(with_uv):
    project, versions = with_uv
    pins = locked(project)

    if shutil.which("uv", path=user_env()["PATH"]) is None:  # as on a fresh machine
        assert versions["uv"] == pins["uv"]  # make put the locked uv into .venv first
    off_lock = {name: v for name, v in versions.items() if name in pins and pins[name] != v}
    assert off_lock == {}
    assert {"pandas", "scikit-learn", "customer-churn"} <= versions.keys()
    # Where Python caches no bytecode, make had uv compile it (else each start compiles again).
    libraries = project / ".venv" / "lib"
    compiled = list(libraries.glob("python3*/site-packages/sklearn/__pycache__/*.pyc"))
    assert bool(compiled) == bool(os.environ.get("PYTHONDONTWRITEBYTECODE")), compiled[:3]


@pytest.mark.matrix
def test_installer_pip_installs_the_same_versions_without_uv(tmp_path, with_uv):
    project = bake_ok(tmp_path / "out", git_init="no")

    versions = setup(project, "INSTALLER=pip")

    assert not (project / ".venv" / "bin" / "uv").exists()
    without_installers = {name: v for name, v in versions.items() if name not in INSTALLERS}
    expected = {name: v for name, v in with_uv[1].items() if name not in INSTALLERS}
    assert without_installers == expected
