"""Scheduled retraining: ingest -> validate -> train -> evaluate -> register{% if cookiecutter|layer_enabled("continuous_training") %} -> promote{% endif %}.

Every task runs one of the project's jobs in the run's own folder (project_jobs.py says how).
{%- if cookiecutter|layer_enabled("continuous_training") %}
Besides its schedule, the monitoring DAG triggers it when drift is found (conf
``{"trigger": "drift"}``); the last task puts the new version through the champion/challenger gate.
{%- endif %}

Settings (environment of the Airflow scheduler and workers), besides project_jobs.py's:
  {{ cookiecutter.package_name|upper }}_RETRAIN_SCHEDULE cron or preset [default: @weekly]
"""

import os
from datetime import UTC, datetime

from airflow.sdk import dag
from project_jobs import DEFAULT_ARGS, PACKAGE, PREFIX, RUN_KEY, bash_job, job, run_env

RUN_ENV = run_env(f"runs/{RUN_KEY}")
DAG_ID = f"{PACKAGE}_retraining"


@dag(
    dag_id=DAG_ID,
    description="Retrain the churn model on fresh data and register it in MLflow",
    schedule=os.environ.get(f"{PREFIX}RETRAIN_SCHEDULE", "@weekly"),
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["{{ cookiecutter.project_slug }}", "retraining"],
)
def retraining():
    @bash_job(RUN_ENV)
    def ingest() -> str:
        """Fresh data for the interval: synthetic here; put your extract (SQL, files) here."""
        return job("generate", "--quiet", "--seed", RUN_KEY)

    @bash_job(RUN_ENV)
    def validate() -> str:
        """Reject rows that break the data contract (quarantined, counted), then split."""
        return job("prepare")

    @bash_job(RUN_ENV)
    def train() -> str:
        return job("train", "--quiet")

    @bash_job(RUN_ENV)
    def evaluate() -> str:
        return job("evaluate")

    @bash_job(RUN_ENV)
    def register() -> str:
        return job("register", "--run-key", f"{DAG_ID}-{RUN_KEY}")
{%- if cookiecutter|layer_enabled("continuous_training") %}

    @bash_job(RUN_ENV)
    def promote() -> str:
        """Champion and challenger on this run's holdout (its test split); the gate decides."""
        return job(
            "promote",
            "--actor",
            {% raw %}f"airflow:{DAG_ID}/{{{{ run_id }}}}",
            "--trigger",
            '{{ dag_run.conf.get("trigger", "schedule") if dag_run.conf else "schedule" }}',{% endraw %}
        )

    ingest() >> validate() >> train() >> evaluate() >> register() >> promote()
{%- else %}

    ingest() >> validate() >> train() >> evaluate() >> register()
{%- endif %}


retraining_dag = retraining()

if __name__ == "__main__":
    # `make airflow-test`: one run in-process, no scheduler (Airflow's dag.test()).
    retraining_dag.test()
