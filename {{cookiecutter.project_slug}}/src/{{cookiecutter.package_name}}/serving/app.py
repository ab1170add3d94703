"""The FastAPI application: ``create_app()`` wires settings, model, log, metrics and routes.

Run it with ``make serve`` or ``{{ cookiecutter.project_slug }} serve`` (uvicorn on 127.0.0.1).
Behind a load balancer or on Kubernetes: the container image and a Deployment with readiness on
``/ready`` and liveness on ``/health`` (the infra layer). ``/docs`` (Swagger UI) and ``/redoc``
work offline: their scripts and styles are served by the app itself.
"""

import asyncio
import contextlib
from contextlib import asynccontextmanager
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

{% if cookiecutter|layer_enabled("governance") -%}
from ..io.audit_log import open_audit_log
{% endif -%}
from ..io.prediction_log import PredictionLog
from ..settings import Settings
from . import schemas
from .errors import install_handlers
from .loader import ModelLoadError, ModelSlot
from .metrics import Metrics
from .middleware import RequestContext
from .routes import compat, operations, predictions


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server for ``settings`` (from the environment and .env when not given)."""
    settings = settings or Settings()
    metrics = Metrics()
    # FastAPI's own /docs and /redoc load their scripts from a CDN: a blank page offline or
    # behind an egress policy. FastAPIOffline serves the same pages from the package's files
    # (under /static-offline-docs), and is a FastAPI otherwise.
    app = FastAPIOffline(
        title={{ (cookiecutter.project_name ~ " prediction server")|jsonify }},
        description="Churn probabilities from the registered model, with a prediction log.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.slot = ModelSlot(settings, metrics)
    app.state.decoders = SimpleNamespace(
        customer=schemas.customer_decoder(),
        batch=schemas.batch_decoder(settings.serve_max_batch_rows),
        records=schemas.records_type(settings.serve_max_batch_rows),
        invocation=schemas.invocation_decoder(settings.serve_max_batch_rows),
    )
    log_dir = settings.prediction_log_dir
    app.state.prediction_log = (
        PredictionLog(log_dir, settings.prediction_log_max_bytes) if log_dir else None
    )
    # The folders a prediction is written to before it is answered, by the setting naming each:
    # while one cannot be written, /ready says which and predictions answer 503.
    app.state.log_folders = {"prediction_log_dir": log_dir} if log_dir else {}
{%- if cookiecutter|layer_enabled("governance") %}
    # Every prediction is also chained into the audit log (hashes of the inputs, not values).
    app.state.audit_log = open_audit_log(settings)
    app.state.log_folders["audit_log_dir"] = settings.audit_log_dir
{%- endif %}
    install_handlers(app)
    for routes in (predictions, compat, operations):
        app.include_router(routes.router)
    app.add_middleware(
        RequestContext, metrics=metrics, max_body_bytes=settings.serve_max_body_bytes
    )
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start answering at once (live, not ready) and load the model in the background."""
    loading = asyncio.create_task(_first_load(app))
    yield
    loading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loading
    if app.state.prediction_log is not None:
        app.state.prediction_log.close()
{%- if cookiecutter|layer_enabled("governance") %}
    app.state.audit_log.close()
{%- endif %}


async def _first_load(app: FastAPI) -> None:
    with contextlib.suppress(ModelLoadError):  # the slot keeps the reason; /ready shows it
        await app.state.slot.load()
