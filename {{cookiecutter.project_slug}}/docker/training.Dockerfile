{%- set python_patch = {"3.11": "3.11.13", "3.12": "3.12.11", "3.13": "3.13.5"}[cookiecutter.python_version] -%}
{%- set extras = ["training", "tracking"] + (["data"] if cookiecutter|layer_enabled("data") else []) + (["scale"] if cookiecutter|layer_enabled("scale") else []) + (["monitoring"] if cookiecutter|uses("orchestrator", "kubeflow") and cookiecutter|layer_enabled("monitoring") else []) -%}
# Training image: the main job (generate or load -> validate -> train -> evaluate -> register)
# under torchrun, data-parallel over the GPUs of one machine. What it trains is
# configs/pipeline.yaml's model.kind (tabular_net is the PyTorch model); mount another config and
# set {{ cookiecutter.package_name|upper }}_CONFIG_PATH to change it without a rebuild.
#
# GPU (default base):
#   docker build -f docker/training.Dockerfile -t {{ cookiecutter.project_slug }}-training .
#   docker run --rm --gpus all --shm-size=2g \
#     -e {{ cookiecutter.package_name|upper }}_TRACKING_URI=http://mlflow.example:5000 {{ cookiecutter.project_slug }}-training
# CPU:
#   docker build -f docker/training.Dockerfile -t {{ cookiecutter.project_slug }}-training:cpu \
#     --build-arg BASE_IMAGE=python:{{ python_patch }}-slim-bookworm \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu \
#     --build-arg NPROC_PER_NODE=1 .
#
# Several machines: override the command with torchrun's rendezvous flags (see the README), or
# set torchrun's PET_* variables (PET_NNODES, PET_NODE_RANK, ...) as Kubernetes operators do.

# The CUDA runtime and cuDNN from NVIDIA; the torch wheel's CUDA build (TORCH_INDEX_URL) matches it.
ARG BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# uv installs a Python of the project's version on bases that have none (the CUDA images).
FROM ghcr.io/astral-sh/uv:0.13.0 AS uv

# ---- builder: Python {{ cookiecutter.python_version }} and the locked dependencies in /opt/venv ----------------------
FROM ${BASE_IMAGE} AS builder

# The same patch release as the serving image; on a python base uv uses the one there.
ARG PYTHON_VERSION={{ python_patch }}
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /src
RUN mkdir -p /opt/python \
    && uv venv --python "${PYTHON_VERSION}" /opt/venv
COPY pyproject.toml README.md ./
COPY requirements/constraints.txt requirements/constraints.txt
COPY src/ src/
# The lock pins torch==2.13.0, which the index's local build (+cu128, +cpu) satisfies;
# unsafe-best-match lets the other packages still come from PyPI at their locked versions.
RUN uv pip install --python /opt/venv/bin/python -c requirements/constraints.txt \
        --extra-index-url "${TORCH_INDEX_URL}" --index-strategy unsafe-best-match \
        ".[{{ extras|join(",") }}]"

# ---- runtime -----------------------------------------------------------------------------
FROM ${BASE_IMAGE}

# gpu: one process per visible GPU; a number for CPUs (torchrun reads PET_NPROC_PER_NODE).
ARG NPROC_PER_NODE=gpu
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="{{ cookiecutter.project_slug }}-training" \
      org.opencontainers.image.description={{ cookiecutter.description|jsonify }} \
      org.opencontainers.image.authors={{ (cookiecutter.author_name ~ " <" ~ cookiecutter.author_email ~ ">")|jsonify }} \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# Outputs go to one directory the user owns (a volume), not into the image's code tree.
# No git in the image: GitPython (MLflow's run tags) stays quiet about it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    DVC_NO_ANALYTICS=1 \
    GIT_PYTHON_REFRESH=quiet \
    PET_NPROC_PER_NODE=${NPROC_PER_NODE} \
    {{ cookiecutter.package_name|upper }}_DATA_DIR=/var/lib/{{ cookiecutter.project_slug }}/data \
    {{ cookiecutter.package_name|upper }}_MODELS_DIR=/var/lib/{{ cookiecutter.project_slug }}/models \
    {{ cookiecutter.package_name|upper }}_REPORTS_DIR=/var/lib/{{ cookiecutter.project_slug }}/reports \
    {{ cookiecutter.package_name|upper }}_MLFLOW_DIR=/var/lib/{{ cookiecutter.project_slug }}/mlflow

# A fixed uid/gid (10001, as in the serving image); its home holds torch's compile caches.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/lib/{{ cookiecutter.project_slug }}

COPY --from=builder /opt/python /opt/python
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY configs/ configs/

USER 10001:10001
VOLUME ["/var/lib/{{ cookiecutter.project_slug }}"]

# Every rank trains; rank 0 alone prepares the data, evaluates and registers the model.
CMD ["torchrun", "--standalone", "-m", "{{ cookiecutter.package_name }}", "run", "--register"]
