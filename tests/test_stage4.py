"""Stage 4 in Airflow's own environment: the monitoring DAG triggers the retraining DAG when the
data drifted (and only then), and a triggered retraining ends in the champion/challenger gate."""

import json
from pathlib import Path

import pytest

from conftest import TEMPLATE, bake_ok
from test_stage2 import project_env, run

TEST_ROWS = 4_000
PACKAGE = "customer_churn"
MONITORING, RETRAINING = f"{PACKAGE}_monitoring", f"{PACKAGE}_retraining"


@pytest.fixture(scope="module")
def champion(tmp_path_factory, project_python, airflow_python):
    """A bake with drift monitoring and continuous training (no server: the window is a table),
    a registered champion, and a window of the same population and a drifted one."""
    project = bake_ok(
        tmp_path_factory.mktemp("stage4") / "out",
        git_init="no",
        maturity_stage="2",
        layer_monitoring="on",
        layer_continuous_training="on",
    )
    config = project / "configs" / "pipeline.yaml"
    config.write_text(config.read_text().replace("rows: 50000", f"rows: {TEST_ROWS}"))
    env = project_env(project_python, project)
    python = str(project_python)
    run([python, "-m", PACKAGE, "run", "--quiet", "--register"], project, env)
    for name, drift, seed in (("same", "0", "11"), ("drifted", "1", "12")):
        window = f"windows/{name}.csv"
        generate = ["generate", "--quiet", "--rows", "3000", "--drift", drift, "--seed", seed]
        run([python, "-m", PACKAGE, *generate, "--output", window], project, env)
    env.update(
        {
            "CUSTOMER_CHURN_PYTHON": python,
            "CUSTOMER_CHURN_RETRIES": "0",
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    return project, env


def dag_test(
    airflow_python: Path, project: Path, env: dict, home: Path, dag_id: str, conf: dict
) -> dict:
    """One dag.test() run in a fresh Airflow database; the report of airflow_check.py."""
    env = {**env, "AIRFLOW_HOME": str(home)}
    run([str(airflow_python.parent / "airflow"), "db", "migrate"], project, env)
    check = TEMPLATE / "tests" / "airflow_check.py"
    command = [str(airflow_python), str(check), str(project / "dags"), dag_id, "2026-03-02"]
    result = run([*command, json.dumps(conf)], project, env)
    line = next(line for line in result.stdout.splitlines() if line.startswith("AIRFLOW_CHECK "))
    return json.loads(line.removeprefix("AIRFLOW_CHECK "))


@pytest.mark.matrix
def test_monitoring_dag_triggers_retraining_when_the_window_drifted(
    champion, airflow_python, tmp_path
):
    project, env = champion
    env = {**env, "CUSTOMER_CHURN_DRIFT_WINDOW": "windows/drifted.csv"}

    report = dag_test(airflow_python, project, env, tmp_path / "home", MONITORING, {})

    assert report["import_errors"] == {}
    assert {MONITORING, RETRAINING} <= set(report["dag_ids"])
    assert report["state"] == "success"
    assert report["tasks"]["check_drift"]["state"] == "success"
    assert report["tasks"]["trigger_retraining"]["state"] == "success"
    (triggered,) = report["other_runs"]
    assert triggered["dag_id"] == RETRAINING
    assert triggered["state"] == "queued"  # a scheduler would start it; dag.test() has none
    assert triggered["conf"]["trigger"] == "drift"
    assert triggered["conf"]["run_key"].isdigit()
    summary = json.loads(next((project / "runs" / "monitoring").glob("*/summary.json")).read_text())
    assert summary["dataset_drift"] is True


@pytest.mark.matrix
def test_monitoring_dag_skips_the_trigger_when_nothing_drifted(champion, airflow_python, tmp_path):
    project, env = champion
    env = {**env, "CUSTOMER_CHURN_DRIFT_WINDOW": "windows/same.csv"}

    report = dag_test(airflow_python, project, env, tmp_path / "home", MONITORING, {})

    assert report["state"] == "success"
    assert report["tasks"]["check_drift"]["state"] == "skipped"
    assert report["tasks"]["trigger_retraining"]["state"] == "skipped"
    assert report["other_runs"] == []


@pytest.mark.matrix
def test_triggered_retraining_registers_a_challenger_and_the_gate_decides(
    champion, airflow_python, tmp_path
):
    project, env = champion
    conf = {"trigger": "drift", "run_key": "20260302120000"}

    report = dag_test(airflow_python, project, env, tmp_path / "home", RETRAINING, conf)

    assert report["state"] == "success", report["tasks"]
    tasks = {"ingest", "validate", "train", "evaluate", "register", "promote"}
    assert set(report["tasks"]) == tasks
    reports = project / "runs" / conf["run_key"] / "reports"
    decision = json.loads((reports / "promotion.json").read_text())
    assert decision["decision"] in {"promoted", "rejected"}
    assert decision["trigger"] == "drift"
    assert decision["actor"].startswith(f"airflow:{RETRAINING}/")
    assert decision["challenger_version"] == "2"
