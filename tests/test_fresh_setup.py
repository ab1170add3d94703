"""The README commands on a fresh machine: `make demo` here, then the project's own two commands.

Slow: each creates a real .venv with pip from the lock file. CI runs them (make test-slow).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import TEMPLATE, cookiecutter_env

pytestmark = [pytest.mark.slow, pytest.mark.integration]
FIGURES = {"roc.png", "calibration.png", "confusion_matrix.png", "feature_importance.png"}


def make(target: str, cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", target, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_make_demo_then_the_projects_two_commands(tmp_path):
    env = cookiecutter_env(tmp_path / ".cookiecutter-home")
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(
        part for part in env["PATH"].split(os.pathsep) if not part.startswith(str(TEMPLATE))
    )

    demo = make("demo", TEMPLATE, env, f"DEMO_DIR={tmp_path / 'demo'}")

    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    project = tmp_path / "demo" / "customer-churn"
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["roc_auc"] > 0.75
    assert {path.name for path in (project / "reports" / "figures").glob("*.png")} == FIGURES
    assert str(project / "reports" / "metrics.json") in demo.stdout
    # The demo runs the highest built stage: at stage 2 its main job ends in the registry.
    registered = json.loads((project / "reports" / "registered.json").read_text())
    assert registered["alias"] == "champion"
    assert "Registry:" in demo.stdout

    tested = make("test", project, env)

    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert " passed" in tested.stdout

    # The project's own venv can run the upgrade command (cookiecutter is in its dev extra).
    identity = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
                for what, value in (("NAME", "Demo"), ("EMAIL", "demo@example.com"))}  # fmt: skip
    for args in (["add", "-A"], ["commit", "-q", "-m", "First run"]):
        subprocess.run(["git", *args], cwd=project, env={**env, **identity}, check=True)
    upgrade = make("upgrade", project, env, f"TEMPLATE={TEMPLATE}", "DRY_RUN=1")

    assert upgrade.returncode == 0, upgrade.stdout[-3000:] + upgrade.stderr[-3000:]
    assert "Upgrading customer-churn" in upgrade.stdout
    assert "Dry run: nothing was written." in upgrade.stdout
