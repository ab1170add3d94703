"""`doctor` on this project's own files and on broken copies of them, with the real
environment{% if cookiecutter|layer_enabled("tracking") %}, a real closed port{% endif %}{% if cookiecutter|layer_enabled("data") %}, real DVC configs and git{% endif %}."""

import importlib.metadata
{%- if cookiecutter|layer_enabled("data") %}
import importlib.util
{%- endif %}
import json
import re
import shutil
{%- if cookiecutter|layer_enabled("tracking") %}
import socket
{%- endif %}
{%- if cookiecutter|layer_enabled("data") %}
import subprocess
{%- endif %}
import tomllib
from pathlib import Path

{% if cookiecutter|layer_enabled("tracking") -%}
import pytest
{% endif -%}
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.core import layers
from {{ cookiecutter.package_name }}.jobs import doctor

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TARGET = re.compile(r"^([a-zA-Z0-9_-]+):.*## ", re.MULTILINE)  # as `make help` reads them
{%- if cookiecutter|layer_enabled("tracking") %}
PREFIX = "{{ cookiecutter.package_name|upper }}_"
{%- endif %}


def record() -> doctor.Record:
    found, check = doctor.read_record(PROJECT_ROOT)
    assert found is not None, check.message
    return found


def test_every_listed_make_target_is_in_the_makefile():
    # A subset: the owner may add targets of their own (the template's tests check that a fresh
    # project lists exactly its Makefile's).
    this = record()
    listed = [
        target
        for group in layers.commands_by_layer(this.layers, this.answers).values()
        for target in group
    ]

    targets = set(TARGET.findall((PROJECT_ROOT / "Makefile").read_text()))

    assert sorted(set(listed) - targets) == []
    assert len(listed) == len(set(listed))


def test_make_setup_installs_every_dependency_group_the_doctor_checks():
    groups = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"].get(
        "optional-dependencies", {}
    )
    extras = re.search(r"^EXTRAS := (.*)$", (PROJECT_ROOT / "Makefile").read_text(), re.M)

    assert extras is not None
    assert sorted(extras[1].split(",")) == sorted(groups)


def test_the_record_gives_stage_and_layers():
    found, check = doctor.read_record(PROJECT_ROOT)

    assert check.status == "OK"
    assert found is not None
    assert f"stage {found.stage} ({layers.STAGES[found.stage]})" in check.message
    assert set(found.layers) <= set(layers.BY_NAME)


def write_project(folder: Path, dependencies: list[str], lock: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / doctor.RECORD, folder / doctor.RECORD)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "doctor-probe"\nrequires-python = ">=3.11"\n'
        f"dependencies = {json.dumps(dependencies)}\n"
    )
    (folder / doctor.LOCK).parent.mkdir(parents=True, exist_ok=True)
    (folder / doctor.LOCK).write_text(lock)
    return folder


def test_a_package_off_its_pin_fails_with_installed_and_locked(tmp_path):
    pyyaml = importlib.metadata.version("pyyaml")
    project = write_project(tmp_path, ["pyyaml>=6"], "pyyaml==0.0.1\n")

    checks = doctor.environment_checks(project)

    message = f"pyyaml {pyyaml} installed, locked 0.0.1: {doctor.SETUP_AGAIN}"
    assert doctor.Check("environment", "FAIL", message) in checks


def test_a_missing_package_fails_naming_its_pin(tmp_path):
    pyyaml = importlib.metadata.version("pyyaml")
    lock = f"pyyaml=={pyyaml}\nno-such-distribution==1.2\n"
    project = write_project(tmp_path, ["PyYAML>=6", "No_Such_Distribution>=1"], lock)

    checks = doctor.environment_checks(project)

    failed = [check.message for check in checks if check.status == "FAIL"]
    assert failed == [f"missing 1 of 2: no-such-distribution==1.2: {doctor.SETUP_AGAIN}"]
    assert doctor.Check("environment", "INFO", NOT_INSTALLED) in checks


NOT_INSTALLED = "doctor-probe itself is not installed here (runs from src/); make setup installs it"


def test_a_matching_environment_passes(tmp_path):
    pyyaml = importlib.metadata.version("pyyaml")
    project = write_project(tmp_path, ["pyyaml>=6"], f"pyyaml=={pyyaml}\n")

    checks = doctor.environment_checks(project)

    assert [check.status for check in checks] == ["OK", "OK", "INFO"]
    assert "1 dependencies (base) at their locked versions" in checks[1].message


def test_a_python_older_than_the_project_needs_fails_with_the_fix():
    check = doctor.python_check('[project]\nrequires-python = ">=99.1"\n')

    assert check.status == "FAIL"
    assert "the project needs >=99.1: rm -rf .venv && make setup PYTHON=python99.1" in check.message


def test_without_the_record_the_stage_is_unknown_and_that_fails(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes((PROJECT_ROOT / "pyproject.toml").read_bytes())

    found, check = doctor.read_record(tmp_path)

    assert found is None
    assert check.status == "FAIL"
    assert check.message.startswith("no .template.json")


def test_outside_a_project_the_cli_says_where_to_run_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["doctor", "--json"])

    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert "no pyproject.toml in" in report["checks"][0]["message"]


def test_the_report_says_broken_on_a_failure_and_healthy_otherwise():
    checks = (doctor.Check("services", "WARN", "w"), doctor.Check("services", "FAIL", "f"))

    broken = doctor.Report(PROJECT_ROOT, record(), checks)
    healthy = doctor.Report(PROJECT_ROOT, record(), checks[:1])

    assert broken.lines()[-1] == "BROKEN: 1 check(s) failed, 1 warning(s)"
    assert "  FAIL  f" in broken.lines()
    assert not broken.ok
    assert healthy.lines()[-1] == "healthy, 1 warning(s)"
    assert healthy.to_dict()["ok"] is True
{%- if cookiecutter|layer_enabled("tracking") %}


@pytest.fixture
def no_tracking_server(monkeypatch):
    """No tracking URI from the environment; MLflow's retry variables restored afterwards."""
    for name in ("MLFLOW_TRACKING_URI", PREFIX + "TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MAX_RETRIES", "BACKOFF_FACTOR", "TIMEOUT"):
        # set, then deleted: monkeypatch then restores even a variable that was not there,
        # so the ones check_server sets do not outlive the test
        monkeypatch.setenv(f"MLFLOW_HTTP_REQUEST_{name}", "")
        monkeypatch.delenv(f"MLFLOW_HTTP_REQUEST_{name}")
    return monkeypatch


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_tracking_server_fails_naming_it(tmp_path, no_tracking_server):
    uri = f"http://127.0.0.1:{closed_port()}"
    no_tracking_server.setenv(PREFIX + "TRACKING_URI", uri)

    check = doctor.tracking_check(tmp_path)

    assert check.status == "FAIL"
    assert f"tracking server {uri} did not answer" in check.message
    assert f"unset {PREFIX}TRACKING_URI and MLFLOW_TRACKING_URI" in check.message


def test_the_embedded_store_says_where_it_is(tmp_path, no_tracking_server):
    check = doctor.tracking_check(tmp_path)

    assert check.status == "OK"
    assert f"embedded SQLite store: {tmp_path / 'mlflow' / 'mlflow.db'} (not there yet" in (
        check.message
    )


def test_the_tracking_uri_resolves_as_the_jobs_resolve_it(tmp_path, no_tracking_server):
    from {{ cookiecutter.package_name }}.io.tracking import server_uri
    from {{ cookiecutter.package_name }}.settings import Settings

    # Cumulative: none, then MLflow's variable, then the project's, which wins.
    cases = [({}, None), ({"MLFLOW_TRACKING_URI": "http://a:1"}, "http://a:1")]
    cases.append(({PREFIX + "TRACKING_URI": "http://b:2"}, "http://b:2"))
    for variables, expected in cases:
        for name, value in variables.items():
            no_tracking_server.setenv(name, value)
        settings = Settings(_env_file=tmp_path / ".env")

        assert doctor.configured_server(settings) == server_uri(settings) == expected
{%- endif %}
{%- if cookiecutter|layer_enabled("data") %}


def dvc_project(folder: Path, config: str | None = None) -> Path:
    """A folder with this project's DVC config, or ``config`` instead."""
    (folder / ".dvc").mkdir(parents=True)
    if config is None:
        shutil.copy(PROJECT_ROOT / ".dvc" / "config", folder / ".dvc" / "config")
    else:
        (folder / ".dvc" / "config").write_text(config)
    return folder


def test_the_shipped_remote_folder_is_created_by_the_first_push(tmp_path):
    check = doctor.dvc_remote_check(dvc_project(tmp_path))

    assert check.status == "OK"
    assert check.message == (
        f"DVC remote 'local', a folder: {tmp_path / 'dvc-remote'} "
        "(not there yet: the first make push creates it)"
    )


def test_no_default_remote_fails_with_how_to_add_one(tmp_path):
    check = doctor.dvc_remote_check(dvc_project(tmp_path, "[core]\n    analytics = false\n"))

    assert check.status == "FAIL"
    assert "no default DVC remote: add one with `dvc remote add -d" in check.message


def test_an_object_store_remote_needs_its_dvc_plugin(tmp_path):
    config = "[core]\n    remote = shared\n['remote \"shared\"']\n    url = s3://bucket/churn\n"

    check = doctor.dvc_remote_check(dvc_project(tmp_path, config))

    if importlib.util.find_spec("dvc_s3") is None:
        assert check.status == "FAIL"
        assert "requires 'dvc-s3' to be installed" in check.message
    else:
        assert check.status == "OK"
    assert "DVC remote 'shared' s3://bucket/churn" in check.message


def test_outside_git_dvc_cannot_run_and_the_doctor_says_so(tmp_path):
    assert doctor.git_check(tmp_path).status == "FAIL"
    assert "git init" in doctor.git_check(tmp_path).message

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    assert doctor.git_check(tmp_path).status == "OK"
{%- endif %}
