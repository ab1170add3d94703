"""Each baked project passes its own type check (`make typecheck`: mypy, configured in its
pyproject.toml), run with the shared, locked environment that has every dependency group: one
bake per stage in `make test`, every case in `make test-all`."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import TEMPLATE, cached_bake, locked
from test_bake import CASES, tiered

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
        env={**os.environ, "MYPY_CACHE_DIR": str(case_cache(project_python, case))},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, f"{case}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
    assert result.stdout.startswith("Success: no issues found")


def case_cache(python: Path, case: str) -> Path:
    """The case's own mypy cache, started from a seed that holds the libraries' types (numpy,
    pandas, torch, fastapi...: a minute to analyse, seconds to read).

    Never one cache for every case: two mypy runs writing one cache at once corrupt it, and mypy
    takes a cached module as fresh when its path, size and mtime (in seconds) match, which the
    same file of two bakes made in the same second can. The seed checks the widest bake by
    absolute paths, so its project modules never pass for a case's (relative paths): mypy
    compares their hashes."""
    seed = MYPY_CACHE / "seed"
    with locked(seed.with_suffix(".lock")):
        if not (seed / ".done").exists():
            shutil.rmtree(seed, ignore_errors=True)
            widest = cached_bake(git_init="no", maturity_stage="4")
            folders = [str(widest / "src"), str(widest / "tests")]
            environment = {**os.environ, "MYPY_CACHE_DIR": str(seed)}
            mypy = [str(python), "-m", "mypy", *folders]
            subprocess.run(mypy, cwd=widest, env=environment, check=False)
            (seed / ".done").touch()
    own = MYPY_CACHE / case
    if not own.exists():
        shutil.copytree(seed, own.with_suffix(".partial"), dirs_exist_ok=True)
        own.with_suffix(".partial").rename(own)
    return own
