"""What every pipeline of this project shares: the image, and how a step runs one job.

Kubeflow Pipelines (kfp v2) runs each step as a pod of the project's image; a step runs one of
the project's jobs, ``python -m {{ cookiecutter.package_name }} <job> ...``, the same entry points as the CLI,
DVC and the notebook. These files import only kfp and the standard library: `make kfp-compile`
compiles them offline, in their own environment (.venv-kfp), to pipeline YAML that a Kubeflow
cluster runs (upload it in the UI, or with the SDK's client:
``kfp.Client(host=...).create_run_from_pipeline_package("retraining.yaml")``, or
``upload_pipeline`` then a recurring run).

A run's steps share its folder on the run's workspace, a volume that Kubeflow Pipelines (2.15
and later, with workspaces enabled: a StorageClass for them) creates for that run alone:
``<workspace>/run/{data,models,reports}``. Steps run one after another, so ReadWriteOnce is enough.

Settings (environment where the pipelines are compiled; the YAML keeps the values):
  {{ cookiecutter.package_name|upper }}_IMAGE           the image every step runs: the project and its locked dependencies{% if cookiecutter|layer_enabled("infra") and cookiecutter|layer_enabled("training") %}
                            (docker/training.Dockerfile builds one){% endif %}
                            [default: ghcr.io/OWNER/{{ cookiecutter.project_slug }}-training:latest]
  {{ cookiecutter.package_name|upper }}_TRACKING_URI    the MLflow server the steps register to [default: http://mlflow:5000]
  {{ cookiecutter.package_name|upper }}_WORKSPACE_SIZE  the run's volume [default: 10Gi]
  {{ cookiecutter.package_name|upper }}_RETRIES         retries of a failed step, with backoff from 60 s [default: 2]
Credentials (the artifact store's keys) come from the cluster, never from the YAML: e.g. a
Secret as environment with the kfp-kubernetes extension (``use_secret_as_env``).
"""

import os

from kfp import dsl

PREFIX = "{{ cookiecutter.package_name|upper }}_"
PACKAGE = "{{ cookiecutter.package_name }}"
SLUG = "{{ cookiecutter.project_slug }}"
IMAGE = os.environ.get(f"{PREFIX}IMAGE", f"ghcr.io/OWNER/{SLUG}-training:latest")
TRACKING_URI = os.environ.get(f"{PREFIX}TRACKING_URI", "http://mlflow:5000")
RETRIES = int(os.environ.get(f"{PREFIX}RETRIES", "2"))
WORKSPACE = dsl.PipelineConfig(
    workspace=dsl.WorkspaceConfig(size=os.environ.get(f"{PREFIX}WORKSPACE_SIZE", "10Gi"))
)
#: Each step's placeholder for the run's workspace (a step's ``workspace`` input).
WORKSPACE_PATH = dsl.WORKSPACE_PATH_PLACEHOLDER

# sh -c <RUN_FOLDER + script> {PACKAGE} <workspace> <args...>: the run folder's data, models and
# reports, then the script with the step's own arguments.
RUN_FOLDER = f"""run="$1/run"; shift
export {PREFIX}DATA_DIR="$run/data" {PREFIX}MODELS_DIR="$run/models" \\
  {PREFIX}REPORTS_DIR="$run/reports"
"""


def script(workspace, body: str, *args) -> dsl.ContainerSpec:
    """The container that runs the shell ``body`` in the run's folder (``$@``: ``args``).

    ``workspace`` and ``args`` may hold a component's inputs (kfp placeholders).
    """
    return dsl.ContainerSpec(
        image=IMAGE, command=["sh", "-c", RUN_FOLDER + body, PACKAGE], args=[workspace, *args]
    )


def job(workspace, *args) -> dsl.ContainerSpec:
    """``python -m {{ cookiecutter.package_name }} <args>`` in the run's folder; its exit status is the step's."""
    return script(workspace, f'exec python -m {PACKAGE} "$@"\n', *args)


def configure(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Retries, the tracking server, and no caching: a job's result depends on more than its
    inputs (fresh data, the registry), so Kubeflow must not reuse an earlier run's step."""
    task.set_caching_options(enable_caching=False)
    task.set_retry(num_retries=RETRIES, backoff_duration="60s", backoff_factor=2)
    for name, value in {
        f"{PREFIX}TRACKING_URI": TRACKING_URI,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }.items():
        task.set_env_variable(name, value)
    return task
