"""`audit verify` passes a clean log and names the first bad record after an edit, a deletion or
a reordering; `audit prune` applies retention and the rest still verifies."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.io.audit_log import AuditLog
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

runner = CliRunner()
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FILE = "audit-2026-01-05.jsonl"


@pytest.fixture
def log_dir(tmp_path) -> Path:
    """Six records in one day file: four predictions, then a promotion decision."""
    folder = tmp_path / "audit"
    with AuditLog(folder, clock=frozen(START)) as log:
        for n in range(2):
            log.append("prediction", [{"request_id": f"r{n}", "score": 0.5}] * 2)
        log.append("promotion", [{"decision": "rejected", "reasons": ["no gain"]}])
        log.append("prediction", [{"request_id": "r9", "score": 0.7}])
    return folder


def frozen(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def verify(folder: Path):
    return runner.invoke(app, ["audit", "verify", "--dir", str(folder)])


def rewrite(folder: Path, change) -> None:
    path = folder / FILE
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(change(lines)))


def test_a_clean_log_passes_with_a_one_line_summary(log_dir):
    result = verify(log_dir)

    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert "OK, 6 records (seq 1-6), head " in result.output


def test_an_edit_is_named(log_dir):
    def edit(lines: list[str]) -> list[str]:
        record = json.loads(lines[4])
        record["payload"]["decision"] = "promoted"
        lines[4] = json.dumps(record) + "\n"
        return lines

    rewrite(log_dir, edit)
    result = verify(log_dir)

    assert result.exit_code == 1
    assert f"BROKEN at {FILE}:5 (seq 5): edited" in result.output


def test_a_deletion_is_named(log_dir):
    rewrite(log_dir, lambda lines: lines[:2] + lines[3:])

    result = verify(log_dir)

    assert result.exit_code == 1
    assert f"BROKEN at {FILE}:3 (seq 4): removed: seq 3 missing" in result.output


def test_a_reordering_is_named(log_dir):
    rewrite(log_dir, lambda lines: [lines[0], lines[3], lines[1], lines[2], *lines[4:]])

    result = verify(log_dir)

    assert result.exit_code == 1
    assert f"BROKEN at {FILE}:2 (seq 4): reordered" in result.output


def test_a_missing_folder_is_a_usage_error(tmp_path):
    result = verify(tmp_path / "nowhere")

    assert result.exit_code == 2
    assert "no audit log folder" in result.output


def test_prune_applies_retention_and_the_log_still_verifies(tmp_path, monkeypatch):
    folder = tmp_path / "audit"
    for day in range(4):
        with AuditLog(folder, clock=frozen(START + timedelta(days=day))) as log:
            log.append("prediction", [{"day": day}])
    monkeypatch.setenv(ENV_PREFIX + "AUDIT_LOG_DIR", str(folder))

    refused = runner.invoke(app, ["audit", "prune"])
    monkeypatch.setenv(ENV_PREFIX + "AUDIT_RETENTION_DAYS", "2")
    pruned = runner.invoke(app, ["audit", "prune"])

    assert refused.exit_code == 2
    assert "AUDIT_RETENTION_DAYS" in refused.output
    assert pruned.exit_code == 0, pruned.output
    assert "deleted 3 file(s)" in pruned.output  # today is long after the last day logged
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
