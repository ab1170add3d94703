"""The project's own prediction routes: one customer, or a batch of them."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..errors import json_response, request_id
from ..schemas import Customer, json_schema, openapi_body
from ..security import ApiKey
from ..service import decode, model_headers, predict

router = APIRouter(tags=["predictions"])


@router.post("/predict", openapi_extra=openapi_body(json_schema(Customer)))
async def predict_one(request: Request, _: ApiKey) -> Response:
    """Churn probability of one customer."""
    customer = decode(request.app.state.decoders.customer, await request.body())
    model, scores = predict(request, [customer])
    body = {
        "request_id": request_id(request),
        "model_version": model.version,
        "churn_probability": scores[0],
    }
    return json_response(body, headers=model_headers(model))


@router.post(
    "/predict/batch",
    openapi_extra=openapi_body(
        {
            "type": "object",
            "properties": {"customers": json_schema(list[Customer])},  # type: ignore[valid-type]
            "required": ["customers"],
            "additionalProperties": False,
        }
    ),
)
async def predict_batch(request: Request, _: ApiKey) -> Response:
    """Churn probabilities of many customers, in request order (at most serve_max_batch_rows)."""
    batch = decode(request.app.state.decoders.batch, await request.body())
    model, scores = predict(request, batch.customers)
    body = {
        "request_id": request_id(request),
        "model_version": model.version,
        "churn_probability": scores,
    }
    return json_response(body, headers=model_headers(model))
