"""The load test against a real server: no errors and flat memory, and it fails when it should."""

import json

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.reliability import load
from {{ cookiecutter.package_name }}.reliability.server import ServerProcess, setting_overrides

pytestmark = [pytest.mark.slow, pytest.mark.integration]
API_KEY = "load-test-key"  # pragma: allowlist secret


@pytest.fixture(scope="module")
def server(server_env, tmp_path_factory):
    """A server whose prediction routes need an API key (so a client without it fails)."""
    folder = tmp_path_factory.mktemp("load")
    settings = setting_overrides(serve_api_key=API_KEY, prediction_log_dir=folder / "predictions")
    with ServerProcess(folder, {**server_env, **settings}, cwd=folder) as running:
        yield running


def test_a_short_load_has_no_errors_and_flat_memory(server):
    report = load.run(
        server, duration=10, concurrency=8, headers={"X-API-Key": API_KEY}, progress=False
    )

    assert report.error_count == 0, report.error_examples
    assert report.requests > 100
    assert report.rss_growth_pct is not None
    assert report.rss_growth_pct < 10
    assert 0 < report.latency_ms["p50"] <= report.latency_ms["p99"]
    assert report.ok


def test_failed_requests_fail_the_load_test(server):
    report = load.run(server, duration=2, concurrency=2, progress=False)  # no API key

    assert report.errors == {"HTTP 401": report.requests}
    assert "unauthorized" in report.error_examples["HTTP 401"]
    assert not report.ok


def test_the_command_writes_the_report_and_exits_by_it(server, tmp_path, monkeypatch):
    monkeypatch.setenv("{{ cookiecutter.package_name|upper }}_REPORTS_DIR", str(tmp_path))
    monkeypatch.setenv("{{ cookiecutter.package_name|upper }}_SERVE_API_KEY", API_KEY)
    url = server.url

    result = CliRunner().invoke(
        app, ["reliability", "load", "--url", url, "--duration", "2", "--concurrency", "2", "-q"]
    )

    report = json.loads((tmp_path / "reliability" / "load.json").read_text())
    assert result.exit_code == 0, result.output
    assert report["ok"]
    assert report["error_count"] == 0
    assert report["rss_mb_before"] is None  # no pid given with --url: memory not measured
