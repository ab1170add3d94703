{%- set python_patch = {"3.11": "3.11.13", "3.12": "3.12.11", "3.13": "3.13.5"}[cookiecutter.python_version] -%}
{%- set governance = cookiecutter|layer_enabled("governance") -%}
{%- set logs = "/var/lib/" ~ cookiecutter.project_slug -%}
# The prediction server: `{{ cookiecutter.project_slug }} serve` (FastAPI + uvicorn) on port 8000.
#
#   docker build -f docker/serving.Dockerfile -t {{ cookiecutter.project_slug }}-serving .
#   docker run --rm -p 127.0.0.1:8000:8000 --read-only --tmpfs /tmp \
#     -v predictions:{{ logs }}/predictions{% if governance %} -v audit:{{ logs }}/audit{% endif %} \
#     -e {{ cookiecutter.package_name|upper }}_TRACKING_URI=http://mlflow.example:5000 {{ cookiecutter.project_slug }}-serving
#
# It serves models:/<registered name>@champion from the tracking server, or an exported copy
# mounted read-only with {{ cookiecutter.package_name|upper }}_SERVE_MODEL_DIR. Keys and tokens come from the
# environment at run time (compose: stack.env; Kubernetes: a Secret), never from the image.

# A patch-pinned slim Debian image: the same Python in both stages, so the venv's interpreter
# link still resolves after the copy. Override with --build-arg PYTHON_IMAGE=...
ARG PYTHON_IMAGE=python:{{ python_patch }}-slim-bookworm

# ---- requirements: the server's dependencies, read from pyproject.toml -------------------
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml ./
# The same list for every edit of the code (and for every stage's project): the builder's
# dependency layer below is rebuilt only when the dependencies or the lock change. MLflow comes
# as mlflow-skinny (same version, in the lock): the client, the registry and model loading,
# without the tracking server's UI, database drivers and pyarrow.
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = p['optional-dependencies']; \
wanted = p['dependencies'] + extras['serving'] + extras['tracking']; \
print('\n'.join(w.replace('mlflow', 'mlflow-skinny', 1) if w.startswith('mlflow') else w \
for w in wanted))" > requirements.txt

# ---- builder: the locked dependencies, then the project, in /opt/venv ----------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
RUN python -m venv /opt/venv
# Versions come from the lock (-c), so the image runs what the tests ran.
COPY requirements/constraints.txt requirements/constraints.txt
COPY --from=requirements /src/requirements.txt requirements/serving.txt
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements/constraints.txt \
    -r requirements/serving.txt
# Only what the wheel build reads: metadata (README.md is the package's readme) and code.
COPY pyproject.toml README.md ./
COPY src/ src/
# pip goes too: nothing installs at run time.
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/pip uninstall --yes pip

# ---- runtime: the venv and a non-root user, no compiler, no pip cache, no source tree -------
FROM ${PYTHON_IMAGE}

# CI passes the release and the commit: --build-arg VERSION=... --build-arg REVISION=$(git rev-parse HEAD)
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="{{ cookiecutter.project_slug }}-serving" \
      org.opencontainers.image.description={{ cookiecutter.description|jsonify }} \
      org.opencontainers.image.authors={{ (cookiecutter.author_name ~ " <" ~ cookiecutter.author_email ~ ">")|jsonify }} \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# No .pyc writes at run time (the root filesystem may be read-only), logs unbuffered, no usage
# data sent anywhere, and the logs a prediction is written to in directories the server user
# owns{% if governance %} (the prediction log, and the audit log's hash chain){% endif %}.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
{%- if governance %}
    {{ cookiecutter.package_name|upper }}_AUDIT_LOG_DIR={{ logs }}/audit \
{%- endif %}
    {{ cookiecutter.package_name|upper }}_PREDICTION_LOG_DIR={{ logs }}/predictions

# A fixed uid/gid, so volume ownership and Kubernetes runAsUser can name it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app \
    && install -d -o app -g app {{ logs }}/predictions{% if governance %} {{ logs }}/audit{% endif %}

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER 10001:10001
# The only paths the server writes besides /tmp: keep them on volumes, not in the container
# (compose.yaml and the Kubernetes Deployment mount exactly these; /ready says when one fails).
VOLUME ["{{ logs }}/predictions"{% if governance %}, "{{ logs }}/audit"{% endif %}]
EXPOSE 8000

# /health is liveness (the process answers); /ready turns 200 once a model is loaded.
# The slim image has no curl: Python's urllib raises, so exits non-zero, on anything but 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# Exec form: uvicorn is PID 1 and gets SIGTERM directly, for a graceful shutdown.
CMD ["{{ cookiecutter.project_slug }}", "serve", "--host", "0.0.0.0", "--port", "8000"]
