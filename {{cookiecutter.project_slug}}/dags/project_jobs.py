"""What every DAG of this project shares: where the project is, and how a task runs one job.

Airflow parses the DAG files in its own environment (.venv-airflow), so this module and the DAGs
import only Airflow and the standard library; every task runs one of the project's jobs with the
project's Python, the same entry points as the CLI, DVC and the notebook. In production the tasks
run the project's image instead (KubernetesPodOperator or the Kubernetes executor): only ``job``
changes.

Settings (environment of the Airflow scheduler and workers):
  {{ cookiecutter.package_name|upper }}_PROJECT_DIR      the project checkout [default: this file's parent's parent]
  {{ cookiecutter.package_name|upper }}_PYTHON           the project's interpreter [default: <project>/.venv/bin/python]
  {{ cookiecutter.package_name|upper }}_RETRIES, {{ cookiecutter.package_name|upper }}_RETRY_DELAY_SECONDS  [default: 2, 60]
"""

import os
import shlex
from datetime import timedelta
from pathlib import Path

from airflow.sdk import task

PREFIX = "{{ cookiecutter.package_name|upper }}_"
PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT_DIR = Path(os.environ.get(f"{PREFIX}PROJECT_DIR", Path(__file__).resolve().parents[1]))
PYTHON = os.environ.get(f"{PREFIX}PYTHON", str(PROJECT_DIR / ".venv" / "bin" / "python"))
{% raw %}
# Each run works in its own folder, keyed on its data interval: a retry or a rerun of the same
# interval rewrites its own files, and registering again reuses the version it made first. A
# triggered run may bring its own numeric key (conf {"run_key": ...}): a drift found twice in a
# week then retrains twice.
RUN_KEY = (
    '{{ (dag_run.conf or {}).get("run_key") '
    "or ((data_interval_end or logical_date or dag_run.run_after) | ds_nodash) }}"
)
{% endraw %}
DEFAULT_ARGS = {
    "retries": int(os.environ.get(f"{PREFIX}RETRIES", "2")),
    "retry_delay": timedelta(seconds=int(os.environ.get(f"{PREFIX}RETRY_DELAY_SECONDS", "60"))),
    "retry_exponential_backoff": True,
}


def run_env(run_dir: str) -> dict[str, str]:
    """The environment of a task whose data, models and reports live in ``run_dir``."""
    return {
        f"{PREFIX}DATA_DIR": f"{run_dir}/data",
        f"{PREFIX}MODELS_DIR": f"{run_dir}/models",
        f"{PREFIX}REPORTS_DIR": f"{run_dir}/reports",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def job(*args: str) -> str:
    """The shell command that runs one project job in the project's environment."""
    return " ".join(shlex.quote(part) for part in (PYTHON, "-m", PACKAGE, *args))


def bash_job(env: dict[str, str], **options):
    """A decorator: a task that runs the command returned by the function in the project folder.

    ``env`` is templated per run; append_env keeps the worker's PATH, HOME and any tracking
    server URI (MLFLOW_TRACKING_URI). ``options`` go to the bash task (e.g. skip_on_exit_code).
    """

    def decorate(command):
        return task.bash(
            task_id=command.__name__, cwd=str(PROJECT_DIR), env=env, append_env=True, **options
        )(command)

    return decorate
