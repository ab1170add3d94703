{%- set python_patch = {"3.11": "3.11.13", "3.12": "3.12.11", "3.13": "3.13.5"}[cookiecutter.python_version] -%}
# MLflow tracking server for the team stack (compose.yaml): runs and the model registry in
# PostgreSQL, artifacts in an S3-compatible store, proxied by the server (--serve-artifacts) so
# clients need only its URL, never the store's credentials.
#
#   docker build -f docker/mlflow.Dockerfile -t {{ cookiecutter.project_slug }}-mlflow .
#
# The database URI (MLFLOW_BACKEND_STORE_URI), the artifact store (MLFLOW_ARTIFACTS_DESTINATION,
# MLFLOW_S3_ENDPOINT_URL, AWS_*) and the allowed Host headers come from the environment at run time.

ARG PYTHON_IMAGE=python:{{ python_patch }}-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="{{ cookiecutter.project_slug }}-mlflow" \
      org.opencontainers.image.description="MLflow tracking server (PostgreSQL + S3) for {{ cookiecutter.project_slug }}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# MLflow's job executor (GenAI jobs, which this project has none of) would start seven more
# Python processes beside the server.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    MLFLOW_DISABLE_TELEMETRY=true \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    DO_NOT_TRACK=true

WORKDIR /build
COPY requirements/constraints.txt constraints.txt
# Every version from the project's lock: mlflow as its clients have it, the database driver
# (psycopg2-binary bundles libpq: no compiler, no apt) and the S3 client (boto3).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt \
        mlflow psycopg2-binary boto3

RUN groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid mlflow --home-dir /home/mlflow --create-home \
        --shell /usr/sbin/nologin mlflow

# Its home is the working directory: without a database URI MLflow writes ./mlflow.db there.
WORKDIR /home/mlflow
USER 10001:10001
EXPOSE 5000

# /health is exempt from MLflow's Host-header check, so the loopback address always works.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]

CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1"]
