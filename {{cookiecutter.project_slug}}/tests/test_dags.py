"""The DAG file, read as text: Airflow parses it in its own environment, so it must not import
this package (or anything outside Airflow and the standard library). The DAG itself runs in the
template's tests and with `make airflow-test`."""

import ast
import sys
from pathlib import Path

DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / "retraining.py"
ALLOWED_ROOTS = {"airflow", "__future__"} | set(sys.stdlib_module_names)


def imported_roots(tree: ast.Module) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0] if node.level == 0 else ".")
    return roots


def test_dag_imports_only_airflow_and_the_standard_library():
    roots = imported_roots(ast.parse(DAG_FILE.read_text(encoding="utf-8")))

    assert roots <= ALLOWED_ROOTS, roots - ALLOWED_ROOTS


def test_tasks_call_the_project_jobs_with_airflow_macros_intact():
    source = DAG_FILE.read_text(encoding="utf-8")

    for job in ('job("generate"', 'job("prepare")', 'job("train"', 'job("evaluate")'):
        assert job in source
    assert 'job("register", "--run-key"' in source
    macro = "{% raw %}{{ (data_interval_end or logical_date or dag_run.run_after) | ds_nodash }}{% endraw %}"
    assert macro in source
    assert "max_active_runs=1" in source
    assert "catchup=False" in source
