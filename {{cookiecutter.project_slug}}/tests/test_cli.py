"""The command line, driven in-process through typer's runner."""

import json

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app

runner = CliRunner()
COMMANDS = ("generate", "ingest", "prepare", "train", "evaluate", "run")


def test_help_lists_and_explains_every_command():
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_its_own_help(command):
    result = runner.invoke(app, [command, "--help"])

    assert result.exit_code == 0
    assert "--config" in result.output


@pytest.mark.integration
def test_jobs_one_by_one(tmp_path, monkeypatch):
    prefix = "{{ cookiecutter.package_name|upper }}_"
    for name in ("DATA_DIR", "MODELS_DIR", "REPORTS_DIR"):
        monkeypatch.setenv(prefix + name, str(tmp_path / name.lower()))

    steps = [
        ["generate", "--rows", "2000", "--seed", "3", "--quiet"],
        ["prepare"],
        ["train", "--quiet"],
        ["evaluate"],
    ]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, result.output

    metrics = json.loads((tmp_path / "reports_dir" / "metrics.json").read_text())
    assert metrics["roc_auc"] > 0.7


def test_config_typo_is_one_clear_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  knd: gradient_boosting\n")

    result = runner.invoke(app, ["train", "--config", str(config)])

    assert result.exit_code == 2
    assert "model.knd: Extra inputs are not permitted" in result.output
    assert "Traceback" not in result.output


@pytest.mark.integration
def test_ingest_then_prepare_quarantine_malformed_rows_with_their_lines(
    tmp_path, monkeypatch, user_csv
):
    """What `make run` does first at stage 2 and after (the DVC stages), on the user's CSV."""
    prefix = "{{ cookiecutter.package_name|upper }}_"
    monkeypatch.setenv(prefix + "DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(prefix + "INPUT_CSV", str(user_csv))

    ingested = runner.invoke(app, ["ingest", "--quiet"])
    (raw,) = (tmp_path / "data" / "raw").iterdir()  # customers.csv, or .parquet with scale
    prepared = runner.invoke(app, ["prepare", "--input", str(raw)])

    assert ingested.exit_code == 0, ingested.output
    assert prepared.exit_code == 0, prepared.output
    assert "3,000 rows read, 7 quarantined" in prepared.output
    rejected = (tmp_path / "data" / "quarantine" / "rejected.csv").read_text()
    assert "\n72," in rejected
    assert "has 10 fields, expected 21" in rejected


def test_missing_input_is_one_clear_line(tmp_path):
    result = runner.invoke(app, ["prepare", "--input", str(tmp_path / "nope.csv")])

    assert result.exit_code == 2
    assert "input table not found" in result.output
