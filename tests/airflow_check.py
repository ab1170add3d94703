"""Run inside Airflow's own venv by the stage tests: load a baked project's DAGs, test one run.

Usage: python airflow_check.py DAGS_FOLDER DAG_ID YYYY-MM-DD [RUN_CONF_JSON]
Prints one JSON document: import errors, DAG ids, the run's state, each task's state/tries, and
the runs of other DAGs that the run triggered. AIRFLOW_HOME (with a migrated database) comes
from the environment.
"""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from airflow.dag_processing.dagbag import BundleDagBag
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session


def main(dags_folder: str, dag_id: str, day: str, conf: str = "{}") -> None:
    # As `airflow dags test` and the DAG processor load a bundle: its folder joins sys.path, so
    # the DAGs can import their shared project_jobs.py.
    bag = BundleDagBag(dag_folder=dags_folder, bundle_path=Path(dags_folder))
    report = {"import_errors": dict(bag.import_errors), "dag_ids": sorted(bag.dag_ids)}
    if dag_id in bag.dags:
        logical_date = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        run = bag.dags[dag_id].test(logical_date=logical_date, run_conf=json.loads(conf) or None)
        report["state"] = str(run.state)
        report["tasks"] = {
            ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
            for ti in run.get_task_instances()
        }
        report["other_runs"] = other_runs(dag_id)
    print("AIRFLOW_CHECK " + json.dumps(report))


def other_runs(dag_id: str) -> list[dict]:
    """Every run of another DAG in the database (the test's own AIRFLOW_HOME)."""
    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id != dag_id).all()
        return [
            {
                "dag_id": run.dag_id,
                "run_id": run.run_id,
                "state": str(run.state),
                "run_type": str(run.run_type),
                "conf": run.conf,
            }
            for run in runs
        ]


if __name__ == "__main__":
    main(*sys.argv[1:])
