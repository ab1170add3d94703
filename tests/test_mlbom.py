"""governance_export=cyclonedx: each registered version's lineage record and model card are also
exported as a CycloneDX ML-BOM. The bake's own tests register real versions (MLflow on SQLite)
and check each BOM against the CycloneDX 1.6 JSON schema with cyclonedx-python-lib's
JsonStrictValidator (jsonschema underneath), tampered documents included; a default bake has
none of it."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import QUIET_ENV, assert_suite_passed, bake_ok, run_project_tests

PACKAGE = "customer_churn"
MLBOM_FILES = {f"src/{PACKAGE}/core/mlbom.py", "tests/governance/test_mlbom.py"}


def cli_help(python: Path, project: Path, *command: str) -> str:
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(project / "src")}
    done = subprocess.run(
        [str(python), "-m", PACKAGE, *command, "--help"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.matrix  # a non-default choice's suite: registers and exports several versions
@pytest.mark.integration
def test_a_cyclonedx_bake_exports_schema_valid_ml_boms(tmp_path, project_python):
    project = bake_ok(
        tmp_path / "out", git_init="no", maturity_stage="4", governance_export="cyclonedx"
    )

    result = run_project_tests(project_python, project, "tests/governance/test_mlbom.py")

    assert "skipped" not in assert_suite_passed(result)
    assert all((project / path).is_file() for path in MLBOM_FILES)
    assert '"cyclonedx-python-lib>=' in (project / "pyproject.toml").read_text()
    assert "CycloneDX ML-BOM" in cli_help(project_python, project, "ml-bom")


def test_the_default_stage4_bake_has_no_ml_bom(tmp_path, project_python):
    project = bake_ok(tmp_path / "out", git_init="no", maturity_stage="4")

    assert not any((project / path).exists() for path in MLBOM_FILES)
    assert "cyclonedx" not in (project / "pyproject.toml").read_text()
    assert "mlbom" not in (project / "src" / PACKAGE / "jobs" / "governance.py").read_text()
    assert "ml-bom" not in cli_help(project_python, project)
