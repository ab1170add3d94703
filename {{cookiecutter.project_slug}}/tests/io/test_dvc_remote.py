"""`check-remote`, run before `make pull`/`make push`, with the real DVC: a repository with the
project's .dvc/config (remote "local": the folder dvc-remote/ in the project), one tracked file,
and a clone of it elsewhere, as on another machine."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def run(folder: Path, *command: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(folder / ".site")}
    if command[0] == "dvc":
        command = (sys.executable, "-m", *command)
    git_identity = ("-c", "user.email=t@example.com", "-c", "user.name=t")
    if command[0] == "git":
        command = ("git", *git_identity, *command[1:])
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def made(tmp_path) -> Path:
    """Where the data was made: git + DVC, the project's DVC config, one file added."""
    folder = tmp_path / "made"
    folder.mkdir()
    run(folder, "git", "init", "-q")
    run(folder, "dvc", "init", "-q")
    shutil.copy(PROJECT_ROOT / ".dvc" / "config", folder / ".dvc" / "config")
    (folder / "data").mkdir()
    (folder / "data" / "customers.csv").write_text("customerID,tenure\n0001-A,3\n")
    run(folder, "dvc", "add", "-q", "data/customers.csv")
    run(folder, "git", "add", "-A")
    run(folder, "git", "commit", "-q", "-m", "data")
    return folder


@pytest.fixture
def clone(made, tmp_path) -> Path:
    """A fresh clone: no data, no cache, and its remote folder (clone/dvc-remote) not there."""
    run(tmp_path, "git", "clone", "-q", str(made), "clone")
    return tmp_path / "clone"


def check(folder: Path, action: str, monkeypatch):
    monkeypatch.chdir(folder)
    return runner.invoke(app, ["check-remote", action])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(folder).parts
    }


def test_pull_from_a_remote_folder_that_is_not_there_is_one_line(clone, monkeypatch):
    before = snapshot(clone)

    result = check(clone, "pull", monkeypatch)

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    remote = (clone / "dvc-remote").resolve()
    assert line.startswith(f"error: DVC remote 'local' is the folder {remote}, which does not")
    assert "`make push` where the data was made" in line
    assert "`dvc remote modify local url <path>`" in line
    assert snapshot(clone) == before  # nothing written, nothing half-pulled


def test_after_a_push_the_check_passes_and_the_pull_restores_the_data(made, clone, monkeypatch):
    assert check(made, "push", monkeypatch).exit_code == 0  # DVC creates the folder itself
    run(made, "dvc", "push", "-q")
    # As the error says: point the clone's remote at the folder the data was pushed to.
    run(clone, "dvc", "remote", "modify", "--local", "local", "url", str(made / "dvc-remote"))

    result = check(clone, "pull", monkeypatch)
    run(clone, "dvc", "pull", "-q")

    assert check(made, "pull", monkeypatch).exit_code == 0
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"DVC remote 'local': {made / 'dvc-remote'}"
    assert (clone / "data" / "customers.csv").read_text() == "customerID,tenure\n0001-A,3\n"


def test_no_default_remote_says_how_to_add_one(made, monkeypatch):
    run(made, "dvc", "remote", "default", "--unset")
    before = snapshot(made)

    for action in ("push", "pull"):
        result = check(made, action, monkeypatch)
        assert result.exit_code == 2
        [line] = result.output.strip().splitlines()
        assert line.startswith("error: no default DVC remote (local configured, none the default)")
        assert "dvc remote add -d" in line
    assert snapshot(made) == before


def test_an_object_store_remote_is_left_to_dvc(made, monkeypatch):
    run(made, "dvc", "remote", "add", "-d", "shared", "s3://bucket/churn")

    result = check(made, "pull", monkeypatch)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "DVC remote 'shared': s3://bucket/churn"


def test_outside_a_dvc_project_it_says_so(tmp_path, monkeypatch):
    result = check(tmp_path, "pull", monkeypatch)

    assert result.exit_code == 2
    assert "is not a DVC project (no .dvc folder)" in result.output
