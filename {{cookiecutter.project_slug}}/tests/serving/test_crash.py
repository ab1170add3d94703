"""kill -9 under load: the logs read back whole and every answered request has its records."""

import pytest

{% if cookiecutter|layer_enabled("governance") -%}
from {{ cookiecutter.package_name }}.io.audit_log import AuditLog
{% endif -%}
from {{ cookiecutter.package_name }}.io.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.reliability import crash


@pytest.mark.slow
@pytest.mark.integration
def test_a_server_killed_under_load_loses_no_answered_prediction(server_env, tmp_path):
    report = crash.run(tmp_path, server_env, cwd=tmp_path, kill_after=300, concurrency=8)

    assert report.answered_200 >= 300
    assert report.at_kill["torn_lines"] == report.torn_lines == 0
    assert report.missing_predictions == []
    assert report.prediction_records >= report.answered_200 + report.after_restart_200
{%- if cookiecutter|layer_enabled("governance") %}
    assert report.at_kill["audit_verify"] == report.audit_verify == "OK"
    assert report.missing_audit == []
    assert report.audit_records > report.at_kill["audit_records"]  # the restart extends it
{%- endif %}
    assert report.after_restart_200 == crash.AFTER_RESTART
    assert report.ok, report.problems


def test_the_check_finds_a_torn_line{% if cookiecutter|layer_enabled("governance") %}_and_an_edited_record{% endif %}(tmp_path):
    with PredictionLog(tmp_path / "predictions") as log:
        log.append([{"request_id": "a", "score": 0.5}, {"request_id": "b", "score": 0.5}])
    (path,) = (tmp_path / "predictions").iterdir()
    path.write_bytes(path.read_bytes()[:-5] + b"\n")  # the last record cut short
{%- if cookiecutter|layer_enabled("governance") %}
    with AuditLog(tmp_path / "audit") as audit:
        audit.append("prediction", [{"request_id": "a"}, {"request_id": "b"}])
    (audit_file,) = (tmp_path / "audit").glob("audit-*.jsonl")
    audit_file.write_text(audit_file.read_text().replace('"b"', '"c"'))
{%- endif %}

    state = crash.logs_state(tmp_path)

    assert state["torn_lines"] == 1
{%- if cookiecutter|layer_enabled("governance") %}
    assert "BROKEN" in str(state["audit_verify"])
{%- endif %}
