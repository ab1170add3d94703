"""Retraining: ingest -> validate -> train -> evaluate -> register{% if cookiecutter|layer_enabled("continuous_training") %} -> promote{% endif %}.

Every step runs one of the project's jobs in the run's own folder (project_components.py says
how). Schedule it with a recurring run (Kubeflow UI or ``kfp.Client().create_recurring_run``,
e.g. weekly); each run works on its own workspace, so runs never share files.
{%- if cookiecutter|layer_enabled("continuous_training") %}
The monitoring pipeline runs it when drift is found (``trigger="drift"``); the last step puts
the new version through the champion/challenger gate.
{%- endif %}

Parameters: ``seed`` of the synthetic data (a recurring run may set its own){% if cookiecutter|layer_enabled("continuous_training") %}, ``trigger``
(recorded by the gate: schedule, drift, new-data, manual){% endif %}.
"""

import itertools

from kfp import dsl
from project_components import PACKAGE, SLUG, WORKSPACE, WORKSPACE_PATH, configure, job

PIPELINE_NAME = f"{SLUG}-retraining"


@dsl.container_component
def ingest(workspace: str, seed: int):
    """Fresh data: synthetic here; put your extract (SQL, files) here."""
    return job(workspace, "generate", "--quiet", "--seed", seed)


@dsl.container_component
def validate(workspace: str):
    """Reject rows that break the data contract (quarantined, counted), then split."""
    return job(workspace, "prepare")


@dsl.container_component
def train(workspace: str):
    return job(workspace, "train", "--quiet")


@dsl.container_component
def evaluate(workspace: str):
    return job(workspace, "evaluate")


@dsl.container_component
def register(workspace: str, run_key: str):
    """A retry of this step reuses the version it registered first (the run's id is the key)."""
    return job(workspace, "register", "--run-key", f"{PACKAGE}_retraining-{run_key}")
{%- if cookiecutter|layer_enabled("continuous_training") %}


@dsl.container_component
def promote(workspace: str, run_key: str, trigger: str):
    """Champion and challenger on this run's holdout (its test split); the gate decides."""
    return job(
        workspace, "promote", "--actor", f"kubeflow:{PIPELINE_NAME}/{run_key}", "--trigger", trigger
    )
{%- endif %}


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Retrain the churn model on fresh data and register it in MLflow",
    pipeline_config=WORKSPACE,
)
def retraining(seed: int = 0{% if cookiecutter|layer_enabled("continuous_training") %}, trigger: str = "schedule"{% endif %}):
    run_key = dsl.PIPELINE_JOB_ID_PLACEHOLDER
    steps = [
        ingest(workspace=WORKSPACE_PATH, seed=seed),
        validate(workspace=WORKSPACE_PATH),
        train(workspace=WORKSPACE_PATH),
        evaluate(workspace=WORKSPACE_PATH),
        register(workspace=WORKSPACE_PATH, run_key=run_key),
{%- if cookiecutter|layer_enabled("continuous_training") %}
        promote(workspace=WORKSPACE_PATH, run_key=run_key, trigger=trigger),
{%- endif %}
    ]
    for before, step in itertools.pairwise(steps):
        step.after(before)
    for step in steps:
        configure(step)
