"""Scheduled retraining: ingest -> validate -> train -> evaluate -> register.

Airflow parses this file in its own environment (.venv-airflow), so it imports only Airflow and
the standard library; every task runs one of the project's jobs with the project's Python, the
same entry points as the CLI, DVC and the notebook. In production the tasks run the project's
image instead (KubernetesPodOperator or the Kubernetes executor): only ``job`` changes.

Settings (environment of the Airflow scheduler and workers):
  {{ cookiecutter.package_name|upper }}_PROJECT_DIR      the project checkout [default: this file's parent's parent]
  {{ cookiecutter.package_name|upper }}_PYTHON           the project's interpreter [default: <project>/.venv/bin/python]
  {{ cookiecutter.package_name|upper }}_RETRAIN_SCHEDULE cron or preset [default: @weekly]
  {{ cookiecutter.package_name|upper }}_RETRIES, {{ cookiecutter.package_name|upper }}_RETRY_DELAY_SECONDS  [default: 2, 60]
"""

import os
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, task

PREFIX = "{{ cookiecutter.package_name|upper }}_"
PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT_DIR = Path(os.environ.get(f"{PREFIX}PROJECT_DIR", Path(__file__).resolve().parents[1]))
PYTHON = os.environ.get(f"{PREFIX}PYTHON", str(PROJECT_DIR / ".venv" / "bin" / "python"))
{% raw %}
# Each run works in its own folder, keyed on its data interval: a retry or a rerun of the same
# interval rewrites its own files, and registering again reuses the version it made first.
RUN_KEY = "{{ (data_interval_end or logical_date or dag_run.run_after) | ds_nodash }}"
{% endraw %}RUN_DIR = f"runs/{RUN_KEY}"
RUN_ENV = {
    f"{PREFIX}DATA_DIR": f"{RUN_DIR}/data",
    f"{PREFIX}MODELS_DIR": f"{RUN_DIR}/models",
    f"{PREFIX}REPORTS_DIR": f"{RUN_DIR}/reports",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def job(*args: str) -> str:
    """The shell command that runs one project job in the project's environment."""
    return " ".join(shlex.quote(part) for part in (PYTHON, "-m", PACKAGE, *args))


def bash_job(command):
    """A task that runs the command returned by ``command`` in the project folder.

    ``env`` is templated per run; append_env keeps the worker's PATH, HOME and any tracking
    server URI (MLFLOW_TRACKING_URI).
    """
    decorate = task.bash(
        task_id=command.__name__, cwd=str(PROJECT_DIR), env=RUN_ENV, append_env=True
    )
    return decorate(command)


@dag(
    dag_id=f"{PACKAGE}_retraining",
    description="Retrain the churn model on fresh data and register it in MLflow",
    schedule=os.environ.get(f"{PREFIX}RETRAIN_SCHEDULE", "@weekly"),
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": int(os.environ.get(f"{PREFIX}RETRIES", "2")),
        "retry_delay": timedelta(seconds=int(os.environ.get(f"{PREFIX}RETRY_DELAY_SECONDS", "60"))),
        "retry_exponential_backoff": True,
    },
    tags=["{{ cookiecutter.project_slug }}", "retraining"],
)
def retraining():
    @bash_job
    def ingest() -> str:
        """Fresh data for the interval: synthetic here; put your extract (SQL, files) here."""
        return job("generate", "--quiet", "--seed", RUN_KEY)

    @bash_job
    def validate() -> str:
        """Reject rows that break the data contract (quarantined, counted), then split."""
        return job("prepare")

    @bash_job
    def train() -> str:
        return job("train", "--quiet")

    @bash_job
    def evaluate() -> str:
        return job("evaluate")

    @bash_job
    def register() -> str:
        return job("register", "--run-key", f"{PACKAGE}_retraining-{RUN_KEY}")

    ingest() >> validate() >> train() >> evaluate() >> register()


retraining_dag = retraining()

if __name__ == "__main__":
    # `make airflow-test`: one run in-process, no scheduler (Airflow's dag.test()).
    retraining_dag.test()
