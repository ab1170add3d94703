"""Each baked project passes its own test suite (run with a shared, locked environment)."""

import pytest

from conftest import bake_ok, run_project_tests
from test_bake import CASES


@pytest.mark.integration
@pytest.mark.parametrize(
    ("answers", "select"),
    [
        (CASES[0][1], ()),  # defaults: the whole suite, notebook included
        (CASES[1][1], ("-m", "not slow")),
        (CASES[2][1], ("-m", "not slow")),
        (CASES[3][1], ("-m", "not slow")),
    ],
    ids=[case[0] for case in CASES],
)
def test_baked_project_suite_passes(tmp_path, project_python, answers, select):
    project = bake_ok(tmp_path / "out", git_init="no", **answers)

    result = run_project_tests(project_python, project, *select)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
