"""Each baked project passes its own type check (`make typecheck`: mypy, configured in its
pyproject.toml), run with the shared, locked environment that has every dependency group: one
bake per stage in `make test`, every case in `make test-all`."""

import os
import subprocess

import pytest

from conftest import TEMPLATE, cached_bake
from test_bake import CASES, tiered

#: One mypy cache for every bake: the libraries' types (numpy, pandas, torch, fastapi...) are
#: analysed once; each project's own modules are still checked afresh (mypy keys them by hash).
MYPY_CACHE = TEMPLATE / ".cache" / "mypy"


@pytest.mark.integration
@pytest.mark.parametrize(("case", "answers", "_package"), tiered(CASES))
def test_baked_project_type_checks(project_python, case, answers, _package):
    project = cached_bake(git_init="no", **answers)  # mypy only reads it (its cache is elsewhere)

    # As `make typecheck` runs it: from the project folder, every setting from pyproject.toml
    # (which also points mypy at src/, so the project needs no install here).
    result = subprocess.run(
        [str(project_python), "-m", "mypy"],
        cwd=project,
        env={**os.environ, "MYPY_CACHE_DIR": str(MYPY_CACHE)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, f"{case}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
    assert result.stdout.startswith("Success: no issues found")
