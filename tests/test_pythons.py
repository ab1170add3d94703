"""Every python_version the template offers: its locks install from wheels there, and a project
generated for it passes its own suite under that interpreter (make test-all).

3.11 is what every other test runs on. The others run the widest bake without `training`: for
them PyPI has only the CUDA build of the locked torch (several GB; this machine's find-links
holds a CPU wheel for 3.11 alone), and the training code is the same on every version.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (
    AIRFLOW_CONSTRAINTS,
    CONSTRAINTS,
    PROJECT_TEMPLATE,
    TEMPLATE,
    assert_suite_passed,
    bake_ok,
    locked_python,
    run_project_tests,
)

pytestmark = [pytest.mark.matrix, pytest.mark.integration]
OFFERED = json.loads((TEMPLATE / "cookiecutter.json").read_text())["python_version"]
OTHERS = [
    version for version in OFFERED if version != f"{sys.version_info[0]}.{sys.version_info[1]}"
]
LOCKS = [
    CONSTRAINTS,
    AIRFLOW_CONSTRAINTS,
    PROJECT_TEMPLATE / "requirements" / "kfp-constraints.txt",
]
#: Pinned distributions PyPI has only as source: pure Python, built in seconds on any version.
SOURCE_ONLY = {"antlr4-python3-runtime", "kfp-server-api"}


def interpreter(version: str) -> str:
    """``python<version>``: pyenv's build of it, else the one on PATH. Missing fails the test."""
    builds = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    found = str(builds[-1]) if builds else shutil.which(f"python{version}")
    if found is None or subprocess.run([found, "-V"], capture_output=True).returncode != 0:
        pytest.fail(f"python{version} is not installed (pyenv install {version})", pytrace=False)
    return found


@pytest.mark.parametrize("version", OFFERED)
@pytest.mark.parametrize("lock", LOCKS, ids=[lock.name for lock in LOCKS])
def test_every_pin_installs_from_a_wheel(version, lock):
    """The offer's condition: each lock resolves, pin for pin, from wheels on this Python."""
    pins = [line for line in lock.read_text().splitlines() if line and not line.startswith("#")]
    wheels_only = [
        argument
        for pin in pins
        if pin.split("==")[0] not in SOURCE_ONLY
        for argument in ("--only-binary", pin.split("==")[0])
    ]
    command = [str(Path(sys.executable).with_name("uv")), "pip", "compile", "--quiet", "-",
               "--python-version", version, "--python-platform", "x86_64-manylinux_2_28",
               "--output-file", os.devnull, *wheels_only]  # fmt: skip

    result = subprocess.run(command, input="\n".join(pins), capture_output=True, text=True)

    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("version", OTHERS)
def test_the_suite_passes_on_each_other_offered_python(tmp_path, version, record_property):
    answers = {"maturity_stage": "4", "layer_training": "off", "python_version": version}
    project = bake_ok(tmp_path / "out", git_init="no", **answers)
    folder = TEMPLATE / ".cache" / f"project-venv-py{version}"

    started = time.monotonic()
    python = locked_python(project, folder, interpreter(version))
    built = time.monotonic()

    version_line = subprocess.run([python, "-V"], capture_output=True, text=True).stdout
    assert version_line.startswith(f"Python {version}.")
    assert_suite_passed(run_project_tests(python, project, "-m", "not slow"))
    record_property("time venv (built, or kept in .cache)", built - started)
    record_property("time fast suite", time.monotonic() - built)
