"""Run inside Airflow's own venv by test_stage2.py: load a baked project's DAGs, test one run.

Usage: python airflow_check.py DAGS_FOLDER DAG_ID YYYY-MM-DD
Prints one JSON document: import errors, DAG ids, the run's state and each task's state/tries.
AIRFLOW_HOME (with a migrated database) comes from the environment.
"""

import json
import sys
from datetime import UTC, datetime

from airflow.dag_processing.dagbag import DagBag


def main(dags_folder: str, dag_id: str, day: str) -> None:
    bag = DagBag(dag_folder=dags_folder)  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES
    report = {"import_errors": dict(bag.import_errors), "dag_ids": sorted(bag.dag_ids)}
    if dag_id in bag.dags:
        logical_date = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        run = bag.dags[dag_id].test(logical_date=logical_date)
        report["state"] = str(run.state)
        report["tasks"] = {
            ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
            for ti in run.get_task_instances()
        }
    print("AIRFLOW_CHECK " + json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
