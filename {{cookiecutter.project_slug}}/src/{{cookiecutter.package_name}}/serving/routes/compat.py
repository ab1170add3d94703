"""Routes other servers' clients already speak, so they can switch without code changes.

- ``POST /invocations``: MLflow's scoring protocol (``mlflow models serve``), all four input
  shapes; the answer is what MLflow returns for this model: ``{"predictions": [[p0, p1], ...]}``.
- ``/v2/...``: the Open Inference Protocol (KServe V2) health, metadata and infer routes, with
  one input tensor per contract column.
"""

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...core import schema
from ..errors import ApiError, json_response, request_id
from ..readiness import not_ready
from ..schemas import invocation_type, json_schema, openapi_body
from ..security import ApiKey
from ..service import convert, decode, model_headers, predict

router = APIRouter(tags=["compatible protocols"])
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
OUTPUT = "churn_probability"
#: The V2 request body: one tensor per contract column (the route checks names and values).
V2_REQUEST = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "inputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "enum": list(schema.INPUT_COLUMNS)},
                    "datatype": {"type": "string"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "data": {"type": "array"},
                },
                "required": ["name", "datatype", "shape", "data"],
            },
        },
    },
    "required": ["inputs"],
}


def read_document(body: bytes) -> dict:
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ApiError(422, "invalid_input", "body: must be a JSON object")
    return document


def mlflow_customers(invocation, kind) -> list:
    """The customers inside any of MLflow's input shapes, checked against the contract."""
    given = [key for key in MLFLOW_FORMATS if getattr(invocation, key) is not None]
    if len(given) != 1:
        raise ApiError(
            422, "invalid_input", f"body: needs exactly one of {', '.join(MLFLOW_FORMATS)}"
        )
    key = given[0]
    payload = getattr(invocation, key)
    if key == "dataframe_split":
        rows = [_row(payload.columns, row, i) for i, row in enumerate(payload.data)]
        return convert(rows, kind, f"{key}.data")
    if isinstance(payload, dict):  # column-oriented: {"tenure": [1, 2], ...}
        return convert(columns_to_records(payload, key), kind, key)
    return payload  # rows, already decoded as customers


def _row(columns: list, row: object, index: int) -> dict:
    if not isinstance(row, list) or len(row) != len(columns):
        message = f"dataframe_split.data[{index}]: needs one value per column ({len(columns)})"
        raise ApiError(422, "invalid_input", message)
    return dict(zip(columns, row, strict=True))


def columns_to_records(columns: dict, field: str) -> list[dict]:
    lengths = {len(values) if isinstance(values, list) else -1 for values in columns.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise ApiError(422, "invalid_input", f"{field}: every column needs a list of equal length")
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


@router.post("/invocations", openapi_extra=openapi_body(json_schema(invocation_type(None))))
async def invocations(request: Request, _: ApiKey) -> Response:
    """MLflow's scoring protocol: dataframe_split, dataframe_records, instances or inputs."""
    decoders = request.app.state.decoders
    invocation = decode(decoders.invocation, await request.body())
    model, scores = predict(request, mlflow_customers(invocation, decoders.records))
    body = {"predictions": [[1.0 - score, score] for score in scores]}
    return json_response(body, headers=model_headers(model))


@router.get("/v2/health/live")
async def v2_live() -> dict:
    return {"live": True}


@router.get("/v2/health/ready")
async def v2_ready(request: Request) -> Response:
    ready = not_ready(request.app.state) is None
    return json_response({"ready": ready}, 200 if ready else 503)


@router.get("/v2/models/{name}")
async def v2_metadata(request: Request, name: str) -> dict:
    model = _named(request, name)
    inputs = [
        {"name": column, "datatype": _datatype(column), "shape": [-1]}
        for column in schema.INPUT_COLUMNS
    ]
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "scikit-learn",
        "inputs": inputs,
        "outputs": [{"name": OUTPUT, "datatype": "FP64", "shape": [-1]}],
    }


@router.get("/v2/models/{name}/ready")
async def v2_model_ready(request: Request, name: str) -> dict:
    _named(request, name)
    return {"ready": True}


@router.post("/v2/models/{name}/infer", openapi_extra=openapi_body(V2_REQUEST))
async def v2_infer(request: Request, name: str, _: ApiKey) -> Response:
    """One input tensor per contract column (``shape`` [n]); the output is churn_probability."""
    _named(request, name)
    document = read_document(await request.body())
    tensors = document.get("inputs")
    if not isinstance(tensors, list) or not all(_is_tensor(t) for t in tensors):
        raise ApiError(422, "invalid_input", "inputs: must be a list of tensors with a name")
    columns = {tensor.get("name"): tensor.get("data") for tensor in tensors}
    records = columns_to_records(columns, "inputs")
    customers = convert(records, request.app.state.decoders.records, "inputs")
    model, scores = predict(request, customers)
    body = {
        "model_name": model.name,
        "model_version": model.version,
        "id": str(document.get("id") or request_id(request)),
        "outputs": [{"name": OUTPUT, "datatype": "FP64", "shape": [len(scores)], "data": scores}],
    }
    return json_response(body, headers=model_headers(model))


def _is_tensor(tensor: object) -> bool:
    # A name that is not a string (a list, an object) cannot key a column: refused, not a 500.
    return isinstance(tensor, dict) and isinstance(tensor.get("name"), str)


def _named(request: Request, name: str):
    model = request.app.state.slot.serving()
    if name != model.name:
        raise ApiError(404, "not_found", f"name: no model {name!r} here (serving {model.name!r})")
    return model


def _datatype(column: str) -> str:
    if column in schema.CATEGORIES:
        return "BYTES"
    return "INT64" if schema.NUMBERS[column][2] else "FP64"
