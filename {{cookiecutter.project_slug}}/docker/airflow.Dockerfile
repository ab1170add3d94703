{%- set extras = ["tracking"] + (["training"] if cookiecutter|layer_enabled("training") else []) + (["scale"] if cookiecutter|layer_enabled("scale") else []) + (["monitoring"] if cookiecutter|layer_enabled("monitoring") else []) -%}
# Airflow for the team stack (compose.yaml, CeleryExecutor) with the retraining DAG baked in.
# Airflow keeps its own environment (the official image and its constraints); the DAG's tasks
# run the project's jobs with the project's interpreter, from a second virtualenv in this image.
#
#   docker build -f docker/airflow.Dockerfile -t {{ cookiecutter.project_slug }}-airflow .

# The apache-airflow version pinned in requirements/airflow-constraints.txt: bump them together.
FROM apache/airflow:3.3.2-python{{ cookiecutter.python_version }}
{%- if cookiecutter|layer_enabled("training") %}

# Workers train on CPUs: the CPU build of torch, not the multi-gigabyte CUDA one.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
{%- endif %}

# Root to build; the image's airflow user is uid 50000 in group 0 (numeric ids below).
USER 0
WORKDIR /tmp/project-build
COPY pyproject.toml README.md ./
COPY requirements/constraints.txt requirements/constraints.txt
COPY src/ src/
# The project's locked versions in /opt/project-venv, owned by root: tasks can run it, not change it.
# PIP_USER=false: the image's default (--user installs for Airflow) would escape the venv.
RUN python -m venv /opt/project-venv \
    && PIP_USER=false /opt/project-venv/bin/pip install --no-cache-dir \
        -c requirements/constraints.txt \
{%- if cookiecutter|layer_enabled("training") %}
        --extra-index-url "${TORCH_INDEX_URL}" \
{%- endif %}
        ".[{{ extras|join(",") }}]" \
    && rm -rf /tmp/project-build

# Tasks run in the project folder: its configs, and runs/<data interval>/ for what they write
# (a volume shared by the workers in compose.yaml).
WORKDIR /opt/project
COPY configs/ configs/
RUN install -d -o 50000 -g 0 -m 775 /opt/project/runs
COPY --chown=50000:0 dags/ /opt/airflow/dags/

ENV {{ cookiecutter.package_name|upper }}_PROJECT_DIR=/opt/project \
    {{ cookiecutter.package_name|upper }}_PYTHON=/opt/project-venv/bin/python \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true

WORKDIR /opt/airflow
USER 50000
