"""`make run` at stage 2 as a user runs it: with their own CSV named in .env (README "Your own
data"), and wherever the project was generated (its own git, a monorepo's tracked or ignored
folder, no git). Its own module, not test_stage2's: these bake their own projects, so xdist
spreads them instead of queueing them behind that module's shared one."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import bake, bake_ok
from test_stage2 import STAGES, TEST_ROWS, project_env, run


def make_run(project: Path, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    """`make run` as typed, with the tests' venv as the project's own: .venv links to it, and
    the Makefile's install step counts as done (it would make the project's own venv)."""
    venv = project / ".venv"
    if not venv.exists():
        venv.symlink_to(Path(env["PATH"].split(os.pathsep)[0]).parent)
        (project / ".installed").touch()  # beside .venv, not in the shared venv
    installed = [f"INSTALLED={project / '.installed'}", "INSTALLER_TOOL="]
    return run(["make", "run", *installed], project, env, check)


def user_csv(project: Path, env: dict, rows: int) -> Path:
    """README "Your own data": a Telco-schema CSV in data/external/ with blank TotalCharges (as
    the public file has), a row with a field too many and one cut short, named in .env."""
    path = project / "data" / "external" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    generate = ["generate", "--quiet", "--rows", str(rows), "--seed", "5", "--output", str(path)]
    run(["python", "-m", "customer_churn", *generate], project, env)
    lines = path.read_text().splitlines()
    lines[1] = re.sub(r",[\d.]+,(Yes|No)$", r", ,\1", lines[1])  # blank TotalCharges: accepted
    lines[21] += ",surplus"
    lines[22] = ",".join(lines[22].split(",")[:10])
    path.write_text("\n".join(lines) + "\n")
    with (project / ".env").open("a") as dotenv:
        dotenv.write(f"CUSTOMER_CHURN_INPUT_CSV=data/external/{path.name}\n")
    return path


@pytest.mark.matrix
@pytest.mark.parametrize("scale", ["off", "on"])
def test_the_users_csv_is_read_every_run_and_a_change_reruns_from_prepare(
    tmp_path, project_python, scale
):
    project = bake_ok(tmp_path / "out", maturity_stage="2", layer_scale=scale)
    env = project_env(project_python, project)
    source = user_csv(project, env, rows=3_000)

    first = make_run(project, env).stdout
    source.write_text("".join(source.read_text().splitlines(keepends=True)[:2_001]))
    changed = make_run(project, env).stdout
    same = make_run(project, env).stdout

    assert "3,000 rows read, 2 quarantined" in first
    assert re.findall(r"Running stage '(\w+)'", changed) == STAGES
    assert "2,000 rows read, 2 quarantined" in changed
    assert re.findall(r"Running stage '(\w+)'", same) == ["ingest"]
    rejected = (project / "data" / "quarantine" / "rejected.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in rejected[1:]] == ["22", "23"]
    assert rejected[2].endswith('"has 10 fields, expected 21"')
    table = "parquet" if scale == "on" else "csv"
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert [out["path"] for out in lock["stages"]["ingest"]["outs"]] == [
        f"data/raw/customers.{table}"
    ]
    assert "/data/external/" in (project / ".gitignore").read_text().splitlines()


@pytest.mark.matrix
@pytest.mark.parametrize("place", ["ignored-folder", "tracked-folder", "no-git"])
def test_make_run_wherever_the_project_is_generated(tmp_path, project_python, place):
    """Inside another repository (a folder it ignores: the hook gives the project its own git;
    a folder it tracks: DVC works in the monorepo), or outside git: one line on what to do."""
    outer = tmp_path / "monorepo"
    outer.mkdir()
    if place != "no-git":
        (outer / ".gitignore").write_text("services/\n" if place == "ignored-folder" else "")
        run(["git", "init", "-q"], outer, os.environ)
    answers = {"git_init": "no"} if place == "no-git" else {}
    assert bake(outer / "services", maturity_stage="2", **answers).returncode == 0
    project = outer / "services" / "customer-churn"
    config = project / "configs" / "pipeline.yaml"
    config.write_text(config.read_text().replace("rows: 50000", f"rows: {TEST_ROWS}"))
    result = make_run(project, project_env(project_python, project), check=False)

    if place == "no-git":
        assert result.returncode == 2
        assert (
            f"error: {project} is not in a git repository, and DVC versions the data in one: "
            "git init && git add -A && git commit -m 'First commit'"
        ) in result.stderr.splitlines()
        assert "Running stage" not in result.stdout
        return
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.findall(r"Running stage '(\w+)'", result.stdout) == STAGES
    assert json.loads((project / "reports" / "registered.json").read_text())["version"] == "1"
    top = run(["git", "rev-parse", "--show-toplevel"], project, os.environ).stdout.strip()
    assert Path(top) == (project if place == "ignored-folder" else outer)
