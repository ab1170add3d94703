"""The fuzzer over the server's own OpenAPI document: thousands of cases, no 5xx, no trace."""

import pytest

from {{ cookiecutter.package_name }}.reliability import fuzz
from {{ cookiecutter.package_name }}.reliability.server import (
    ServerProcess,
    client_headers,
    setting_overrides,
)

ADMIN_TOKEN = "fuzz-admin-token"


@pytest.mark.parametrize(
    ("status", "body", "found"),
    [
        (500, b'{"error": {"code": "internal_error", "message": "m"}, "request_id": ""}', "500"),
        (422, b'Traceback (most recent call last):\n  File "app.py"', "exception text"),
        (404, b"Not Found", "not the JSON error shape"),
        (400, b'{"detail": "bad"}', "not the JSON error shape"),
    ],
)
def test_the_checks_name_each_kind_of_bad_answer(status, body, found):
    assert found in (fuzz.problem_with(status, body) or "")


def test_an_error_in_the_project_shape_passes():
    body = b'{"error": {"code": "invalid_input", "message": "tenure: ..."}, "request_id": "a"}'

    assert fuzz.problem_with(422, body) is None
    assert fuzz.problem_with(200, b'{"churn_probability": 0.5}') is None


@pytest.mark.slow
@pytest.mark.integration
def test_every_route_takes_2000_cases_without_a_5xx_or_a_trace(server_env, tmp_path):
    settings = setting_overrides(
        serve_admin_token=ADMIN_TOKEN, prediction_log_dir=tmp_path / "predictions"
    )
    with ServerProcess(tmp_path, {**server_env, **settings}, cwd=tmp_path) as server:
        routes = server.get("/openapi.json")[1]["paths"]
        report = fuzz.run(server, 2000, seed=1, headers=client_headers(None, ADMIN_TOKEN))

    operations = {f"{m.upper()} {path}" for path, item in routes.items() for m in item}
    statuses = report.statuses()
    assert report.cases >= 2000
    assert report.failure_count == 0, [failure.reproducer for failure in report.failures]
    assert set(report.operations) == operations
    assert all(result["cases"] >= 1 for result in report.operations.values())
    assert not [status for status in statuses if status.startswith("5")]
    assert "200" in report.operations["POST /admin/reload"]["statuses"]  # past the 401
    assert set(report.operations["POST /v2/models/{name}/infer"]["statuses"]) - {"404"}
    assert report.ok
