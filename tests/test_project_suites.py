"""Each baked project passes its own test suite (run with a shared, locked environment).

`make test` runs the fast tests of one bake per stage; `make test-all` every case's, and the slow
tests (server, load, fuzz, crash, torchrun, notebook, MLflow server) of SLOW_TESTS. Each
stage's default project runs its whole suite in `make test-fresh`, in its own venv.
A suite may skip nothing but its `gpu` tests."""

import subprocess

import pytest

from conftest import assert_suite_passed, bake_ok, run_project_tests
from test_bake import CASES, EVERYDAY, tiered

#: Bakes whose slow tests take other paths than the demo project's, and which of them (the
#: folders whose code differs from the demo's): torchrun and the notebook without tracking;
#: serving without the stage-4 layers; with every other system, the CLI and governance's ML-BOM
#: export (serving, io and the notebook are the demo's files there).
SLOW_TESTS = {
    "stage1-with-training": [],
    "stage2-training-serving-scale": ["tests/serving"],
    "stage4-other-systems": ["tests/governance", "tests/integration", "tests/jobs"],
}
SLOW_SUITES = [case for case in CASES if case[0] in SLOW_TESTS]
#: The default bakes' fast suites: make test-fresh runs each stage's default project's whole
#: suite, in the venv its own make setup made; CI, which runs both tiers, runs them there only.
SUITES = [
    pytest.param(*case.values, id=case.id, marks=pytest.mark.covered_by_fresh)
    if case.id in EVERYDAY
    else case
    for case in tiered(CASES)
]


@pytest.mark.integration
@pytest.mark.parametrize(("case", "answers", "_package"), SUITES)
def test_baked_project_suite_passes(tmp_path, project_python, case, answers, _package):
    project = bake_ok(tmp_path / "out", git_init="no", **answers)

    assert_suite_passed(run_project_tests(project_python, project, "-m", "not slow"))


@pytest.mark.matrix
@pytest.mark.integration
@pytest.mark.parametrize(
    ("case", "answers", "_package"), SLOW_SUITES, ids=[c[0] for c in SLOW_SUITES]
)
def test_baked_project_slow_tests_pass(tmp_path, project_python, case, answers, _package):
    project = bake_ok(tmp_path / "out", git_init="no", **answers)

    assert_suite_passed(run_project_tests(project_python, project, "-m", "slow", *SLOW_TESTS[case]))


def test_make_test_gpu_fails_without_cuda_instead_of_skipping(tmp_path, project_python):
    """tools/gpu_tests.sh runs it on a GPU machine; here (no CUDA) it must stop, with one line."""
    project = bake_ok(tmp_path / "out", git_init="no", maturity_stage="3")
    (project / ".venv").symlink_to(project_python.parent.parent)  # make's venv: the tests'
    (tmp_path / "installed").touch()

    result = subprocess.run(
        ["make", "test-gpu", f"INSTALLED={tmp_path / 'installed'}", "INSTALLER_TOOL="],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode != 0
    assert "sees no CUDA device" in result.stderr
    assert "make test-gpu needs one" in result.stderr
    assert "-m pytest" not in result.stdout  # stopped before the tests could skip
