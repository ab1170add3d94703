"""Each baked project passes its own test suite (run with a shared, locked environment)."""

import pytest

from conftest import bake_ok, run_project_tests
from test_bake import CASES

#: The widest bake runs its whole suite (notebook, MLflow server, torchrun, uvicorn); the others
#: skip `slow` tests.
FULL_SUITE = "stage4-defaults"


@pytest.mark.integration
@pytest.mark.parametrize(("case", "answers", "_package"), CASES, ids=[case[0] for case in CASES])
def test_baked_project_suite_passes(tmp_path, project_python, case, answers, _package):
    project = bake_ok(tmp_path / "out", git_init="no", **answers)
    select = () if case == FULL_SUITE else ("-m", "not slow")

    result = run_project_tests(project_python, project, *select)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
