"""Routes for operators and orchestrators: liveness, readiness, metrics, model, reload."""

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict

from ..errors import ApiError, json_response
from ..loader import ModelLoadError
from ..readiness import not_ready
from ..security import Admin

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict:
    """Live: the process answers (whether or not a model is loaded)."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> Response:
    """Ready: a model is loaded and passed its self-check, and every log a prediction is
    written to can be written (503 with the reason otherwise)."""
    state = request.app.state
    if reason := not_ready(state):
        return json_response({"ready": False, "reason": reason}, 503)
    return json_response({"ready": True, "model_version": state.slot.current.version})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text format: requests, latencies, errors, rows scored, the model served."""
    return PlainTextResponse(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
    )


@router.get("/model")
async def model(request: Request) -> dict:
    """Name, version, alias, run id and data hash of the model in service."""
    return request.app.state.slot.serving().describe()


class ReloadRequest(BaseModel):
    """Which version to load: an alias, a version number, or neither (the configured alias)."""

    model_config = ConfigDict(extra="forbid")
    alias: str | None = None
    version: str | None = None


@router.post("/admin/reload")
async def reload(request: Request, _: Admin, wanted: ReloadRequest | None = None) -> dict:
    """Load a version fully and self-check it, then swap; a failure keeps the old model."""
    slot = request.app.state.slot
    previous = slot.current.version if slot.current else None
    wanted = wanted or ReloadRequest()
    try:
        loaded = await slot.load(wanted.alias, wanted.version)
    except ModelLoadError as error:
        still = f"; still serving version {previous}" if previous else "; no model is served"
        raise ApiError(422, "reload_refused", f"{error}{still}") from None
    return {"previous_version": previous, **loaded.describe()}
