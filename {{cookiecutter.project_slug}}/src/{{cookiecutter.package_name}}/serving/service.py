"""What every prediction route does once its input is valid: score, count, log."""

from datetime import UTC, datetime
from typing import Any

import msgspec
from fastapi import Request

{% if cookiecutter|layer_enabled("governance") -%}
from ..core.audit import input_hash
{% endif -%}
from ..core.scoring import CustomerArrays
{%- if cookiecutter|layer_enabled("governance") %}
from ..io.audit_log import AuditLog
{%- endif %}
from .errors import ApiError, request_id
from .loader import ServedModel
from .schemas import PredictionRecord, field_and_problem


def decode(decoder: msgspec.json.Decoder, body: bytes) -> Any:
    """The typed body, or a 400 (not JSON) / 422 (breaks the contract) naming the field."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as error:
        raise invalid_input(error) from None
    except msgspec.DecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None


def convert(document: Any, kind: Any, prefix: str) -> Any:
    """An already decoded document checked against ``kind``; errors start with ``prefix``."""
    try:
        return msgspec.convert(document, kind)
    except msgspec.ValidationError as error:
        raise invalid_input(error, prefix) from None


def invalid_input(error: msgspec.ValidationError, prefix: str = "") -> ApiError:
    field, problem = field_and_problem(error, prefix)
    return ApiError(
        422, "invalid_input", f"{field}: {problem}", [{"field": field, "problem": problem}]
    )


def predict(request: Request, customers: list) -> tuple[ServedModel, list[float]]:
    """Churn probabilities of validated customers, by the model in service, logged one by one."""
    state = request.app.state
    model = state.slot.serving()  # read once: a reload mid-request cannot mix two models
    rows = list(map(msgspec.structs.astuple, customers))
    scores = model.scorer.score(CustomerArrays.from_rows(rows)).tolist()
    state.metrics.rows_scored += len(scores)
    try:
        if state.prediction_log is not None:
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            rid, version = request_id(request), model.version
            state.prediction_log.append(
                [
                    PredictionRecord(rid, stamp, version, customer, score)
                    for customer, score in zip(customers, scores, strict=True)
                ]
            )
{%- if cookiecutter|layer_enabled("governance") %}
        audit(state.audit_log, request, model, customers, scores)
{%- endif %}
    except OSError as error:  # unwritable, full: no answer that was not logged (/ready says why)
        message = f"the prediction could not be logged, so it is not answered: {error}"
        raise ApiError(503, "log_unwritable", message) from None
    return model, scores


def model_headers(model: ServedModel) -> dict[str, str]:
    return {"x-model-version": model.version}
{%- if cookiecutter|layer_enabled("governance") %}


def audit(
    log: AuditLog, request: Request, model: ServedModel, customers: list, scores: list[float]
) -> None:
    """One audit record per row, in one write (fsync'd in durable mode) before the answer: a
    hash of each validated input, never its values."""
    rid = request_id(request)
    log.append(
        "prediction",
        [
            {
                "request_id": rid,
                "row": row,
                "model_version": model.version,
                "input_sha256": input_hash(msgspec.to_builtins(customer)),
                "score": score,
            }
            for row, (customer, score) in enumerate(zip(customers, scores, strict=True))
        ],
    )
{%- endif %}
