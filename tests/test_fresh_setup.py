"""The README commands on a fresh machine, as typed: `git clone` the template, `make demo` in the
clone (the demo lands in its git-ignored demo/), then the project's own two commands. The clone
is of this checkout's HEAD: commit a change to test it here.

At stage 4 `make demo` runs the whole story (tools/demo_story.py): train and register a champion,
serve it, send traffic, inject drift, detect it, retrain, gate, reload the server, summarize.
Each creates a real .venv from the lock file, as `make setup` does (uv). CI runs them after the
full matrix (make test-fresh); the demo project's whole suite runs only here, in its own venv.
"""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TEMPLATE, assert_suite_passed, cookiecutter_env, user_env

pytestmark = [pytest.mark.fresh, pytest.mark.integration]
FIGURES = {"roc.png", "calibration.png", "confusion_matrix.png", "feature_importance.png"}
STEPS = 9
#: tools/demo_story.py's defaults: requests before the drift, and after it.
CALM, DRIFTED = 200, 1000


def make(target: str, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", target, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def git_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The template as a user gets it, and a user's environment (a private cookiecutter home)."""
    env = cookiecutter_env(tmp_path / ".cookiecutter-home", user_env())
    clone = tmp_path / "template"
    subprocess.run(["git", "clone", "-q", str(TEMPLATE), str(clone)], env=env, check=True)
    return clone, env


def test_git_clone_then_make_demo_then_the_projects_two_commands(tmp_path, record_property):
    clone, env = git_clone(tmp_path)

    started = time.time()
    demo = make("demo", clone, env)
    ended = time.time()

    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    project = clone / "demo" / "customer-churn"
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["roc_auc"] > 0.75
    assert {path.name for path in (project / "reports" / "figures").glob("*.png")} == FIGURES
    assert str(project / "reports" / "metrics.json") in demo.stdout
    # The demo runs the highest built stage: its main job ends in the registry.
    registered = json.loads((project / "reports" / "registered.json").read_text())
    assert registered["alias"] == "champion"
    assert registered["version"] == "1"
    check_story(demo.stdout, project)
    record_demo_times(record_property, project, started, ended)

    tested = make("test", project, env)

    assert_suite_passed(tested)  # the whole suite, slow tests included: only here
    record_property("time make test", time.time() - ended)

    # The project's own venv can run the upgrade command (cookiecutter is in its dev extra).
    identity = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
                for what, value in (("NAME", "Demo"), ("EMAIL", "demo@example.com"))}  # fmt: skip
    for args in (["add", "-A"], ["commit", "-q", "-m", "First run"]):
        subprocess.run(["git", *args], cwd=project, env={**env, **identity}, check=True)
    upgrade = make("upgrade", project, env, f"TEMPLATE={clone}", "DRY_RUN=1")

    assert upgrade.returncode == 0, upgrade.stdout[-3000:] + upgrade.stderr[-3000:]
    assert "Upgrading customer-churn" in upgrade.stdout
    assert "Dry run: nothing was written." in upgrade.stdout


@pytest.mark.parametrize("stage", ["3", "2", "1"])  # the longest first: `-n 2` runs two at once
def test_make_demo_at_each_stage_then_its_own_make_test(tmp_path, stage, record_property):
    """`make demo STAGE=N` as typed: the stage's own `make setup` (its extras only, its own venv)
    runs its main job; then its own `make test`, the whole suite."""
    clone, env = git_clone(tmp_path)

    started = time.time()
    demo = make("demo", clone, env, f"STAGE={stage}")
    ended = time.time()

    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    project = clone / "demo" / "customer-churn"
    assert (
        json.loads((project / ".template.json").read_text())["answers"]["maturity_stage"] == stage
    )
    assert f"Demo project: demo/customer-churn (stage {stage})" in demo.stdout
    assert json.loads((project / "reports" / "metrics.json").read_text())["roc_auc"] > 0.75
    assert {path.name for path in (project / "reports" / "figures").glob("*.png")} == FIGURES
    assert ("Registry:" in demo.stdout) == (stage != "1")  # tracking from stage 2 on
    record_demo_times(record_property, project, started, ended)

    assert_suite_passed(make("test", project, env))
    record_property("time make test", time.time() - ended)


def record_demo_times(record_property, project: Path, started: float, ended: float) -> None:
    """`make demo`'s two phases, split where the project's own `make setup` touched its
    .venv/.installed: set-up before (the clone's own venv, the bake, the project's venv), the
    main job (or the story) after."""
    installed = (project / ".venv" / ".installed").stat().st_mtime
    record_property("time set-up (template, bake, project)", installed - started)
    record_property("time main job (make demo's rest)", ended - installed)


def check_story(out: str, project: Path) -> None:
    """The stage-4 story: every step announced, the summary's lines, the files they point at."""
    for number in range(1, STEPS + 1):
        assert f"[{number}/{STEPS}] " in out, f"step {number} not announced:\n{out[-3000:]}"
    assert "Demo story: OK" in out, out[-3000:]
    # Traffic: every request answered by the server, and logged by it.
    assert (
        f"{CALM + DRIFTED} predictions answered over HTTP ({CALM} as usual, {DRIFTED} drifted)"
        in out
    )
    logged = sum(
        len(path.read_bytes().splitlines())
        for path in (project / "logs" / "predictions").glob("predictions-*.jsonl")
    )
    assert logged == CALM + DRIFTED
    # Detection: the drift job flagged the log (exit 3), its report is there.
    drift = re.search(r"drift +(\d+) of (\d+) columns drifted \(share ([\d.]+).*, exit 3", out)
    assert drift, out[-3000:]
    summary = json.loads((project / "reports" / "drift" / "summary.json").read_text())
    assert summary["dataset_drift"]
    assert int(drift[1]) == summary["number_of_drifted_columns"]
    assert (project / "reports" / "drift" / "report.html").stat().st_size > 0
    # The gate decided, with a reason; the champion after is what the server now serves.
    gate = re.search(r"gate +(PROMOTED|REJECTED) challenger version (\d+): (passed|failed): ", out)
    assert gate, out[-3000:]
    (run,) = (project / "runs").glob("ct-*")
    promotion = json.loads((run / "reports" / "promotion.json").read_text())
    assert promotion["decision"] == gate[1].lower()
    assert promotion["challenger_version"] == gate[2] == "2"
    champion = promotion["challenger_version"] if promotion["promote"] else "1"
    assert f"champion after   version {champion}" in out
    assert f"serves version {champion} (GET /model at http://127.0.0.1:" in out
    if promotion["promote"]:  # the server was told, and confirmed
        assert f"reloaded: now serving version {champion}" in out
    # Where to look: the MLflow UI command, and a model card that exists.
    assert f"make -C {project} mlflow-ui" in out
    card = project / "reports" / "governance" / f"customer-churn-v{champion}" / "model_card.html"
    assert card.stat().st_size > 0
    assert str(card) in out
    assert "server stopped" in out
