"""The DAG files, read as text: Airflow parses them in its own environment, so they must not
import this package (or anything outside Airflow, the standard library and their shared
project_jobs.py). The DAGs themselves run in the template's tests and with `make airflow-test`."""

import ast
import sys
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"
ALLOWED_ROOTS = {"airflow", "__future__", "project_jobs"} | set(sys.stdlib_module_names)


def imported_roots(tree: ast.Module) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0] if node.level == 0 else ".")
    return roots


def test_dags_import_only_airflow_the_standard_library_and_project_jobs():
    for path in DAGS.glob("*.py"):
        roots = imported_roots(ast.parse(path.read_text(encoding="utf-8")))

        assert roots <= ALLOWED_ROOTS, f"{path.name}: {roots - ALLOWED_ROOTS}"


def test_tasks_call_the_project_jobs_with_airflow_macros_intact():
    source = (DAGS / "retraining.py").read_text(encoding="utf-8")
    shared = (DAGS / "project_jobs.py").read_text(encoding="utf-8")

    for job in ('job("generate"', 'job("prepare")', 'job("train"', 'job("evaluate")'):
        assert job in source
    assert 'job("register", "--run-key"' in source
    macro = "{% raw %}((data_interval_end or logical_date or dag_run.run_after) | ds_nodash) }}{% endraw %}"
    assert macro in shared
    assert "max_active_runs=1" in source
    assert "catchup=False" in source
{%- if cookiecutter|layer_enabled("continuous_training") %}


def test_monitoring_triggers_retraining_once_per_run_and_retraining_ends_in_the_gate():
    monitoring = (DAGS / "monitoring.py").read_text(encoding="utf-8")
    retraining = (DAGS / "retraining.py").read_text(encoding="utf-8")

    assert 'job("drift"' in monitoring
    assert "TriggerDagRunOperator(" in monitoring
    assert "skip_when_already_exists=True" in monitoring
    assert "max_active_runs=1" in monitoring
    assert 'job(\n            "promote"' in retraining
    assert "register() >> promote()" in retraining
{%- endif %}
