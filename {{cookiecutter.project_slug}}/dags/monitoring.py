"""Drift monitoring: check the current window against the champion's training data; when the
data drifted, trigger the retraining DAG (which ends in the champion/challenger gate).

The check is the project's `drift` job. Its exit code decides: 3 (drift) lets the trigger run,
0 (no drift) skips it, 2 (bad input: a missing column, too few rows) fails the task.

Settings (environment of the Airflow scheduler and workers), besides project_jobs.py's:
  {{ cookiecutter.package_name|upper }}_MONITOR_SCHEDULE cron or preset [default: @daily]
  {{ cookiecutter.package_name|upper }}_DRIFT_WINDOW     the window to check, a table or a log folder
                                 [default: {% if cookiecutter|layer_enabled("serving") %}the prediction server's log{% else %}none: set it{% endif %}]
"""

import os
from datetime import UTC, datetime

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag
from project_jobs import DEFAULT_ARGS, PACKAGE, PREFIX, RUN_KEY, bash_job, job

RETRAINING_DAG_ID = f"{PACKAGE}_retraining"
WINDOW = os.environ.get(f"{PREFIX}DRIFT_WINDOW", "")
#: The drift job's exit codes, and the one a bash task turns into "skipped".
DRIFT_FOUND, NO_DRIFT, SKIP = 3, 0, 99


@dag(
    dag_id=f"{PACKAGE}_monitoring",
    description="Check the current data for drift; retrain when it drifted",
    schedule=os.environ.get(f"{PREFIX}MONITOR_SCHEDULE", "@daily"),
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["{{ cookiecutter.project_slug }}", "monitoring"],
)
def monitoring():
    @bash_job({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}, skip_on_exit_code=SKIP)
    def check_drift() -> str:
        """Exit 0 when the data drifted (go on), 99 when it did not (skip the trigger)."""
        window = ("--current", WINDOW) if WINDOW else ()
        check = job("drift", *window, "--out", f"runs/monitoring/{RUN_KEY}")
        return (
            f"{check}; code=$?; "
            f"if [ $code -eq {DRIFT_FOUND} ]; then exit 0; "
            f"elif [ $code -eq {NO_DRIFT} ]; then exit {SKIP}; else exit $code; fi"
        )

    trigger_retraining = TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id=RETRAINING_DAG_ID,
        # One retraining per monitoring run, even when this task is retried.
        {% raw %}trigger_run_id="drift__{{ run_id }}",
        skip_when_already_exists=True,
        conf={"trigger": "drift", "run_key": "{{ dag_run.run_after.strftime('%Y%m%d%H%M%S') }}"},{% endraw %}
        wait_for_completion=False,
    )

    check_drift() >> trigger_retraining


monitoring_dag = monitoring()

if __name__ == "__main__":
    # One run in-process, no scheduler (Airflow's dag.test()); the retraining run it triggers
    # waits for a scheduler.
    monitoring_dag.test()
