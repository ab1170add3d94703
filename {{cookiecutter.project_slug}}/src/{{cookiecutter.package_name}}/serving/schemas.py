"""Request schemas built from the data contract: enums and ranges come from core/schema.py.

Bodies decode with msgspec straight from the bytes into typed structs, five times faster than
the same checks through pydantic, which matters on a path that runs per request. Decoding is
strict (a string where a number belongs is an error, not a conversion) and an error names the
field, as ``customers[3].tenure``.
"""

import re
from typing import Annotated, Any, Literal

import msgspec

from ..core import schema

MAX_ID_LENGTH = 64


def _field(column: str) -> Any:
    if column in schema.CATEGORIES:
        return Literal[schema.CATEGORIES[column]]
    low, high, whole = schema.NUMBERS[column]
    number: Any = Annotated[int if whole else float, msgspec.Meta(ge=low, le=high)]
    return number | None if column in schema.MAY_BE_BLANK else number


#: One customer: every input column of the contract (TotalCharges may be null), then an
#: optional customerID that is logged with the prediction. ``astuple`` gives the values in
#: ``schema.INPUT_COLUMNS`` order.
Customer = msgspec.defstruct(
    "Customer",
    [
        *((column, _field(column)) for column in schema.INPUT_COLUMNS),
        (
            schema.ID_COLUMN,
            Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | None,
            None,
        ),
    ],
    forbid_unknown_fields=True,
    omit_defaults=True,
    gc=False,
)


class PredictionRecord(msgspec.Struct, gc=False):
    """One line of the prediction log."""

    request_id: str
    time: str
    model_version: str
    features: Customer  # type: ignore[valid-type]
    score: float


def customer_decoder() -> msgspec.json.Decoder:
    return msgspec.json.Decoder(Customer)


def batch_decoder(max_rows: int) -> msgspec.json.Decoder:
    """``{"customers": [...]}`` with 1 to ``max_rows`` customers."""
    return msgspec.json.Decoder(_batch(max_rows))


def records_type(max_rows: int | None) -> Any:
    """A bare list of customers (the compatible protocols build one from their own shapes);
    ``max_rows`` None: no upper limit (for the OpenAPI document, the limit is a setting)."""
    customers = list[Customer]  # type: ignore[valid-type]  # a struct built at runtime
    return Annotated[customers, msgspec.Meta(min_length=1, max_length=max_rows)]


def invocation_decoder(max_rows: int) -> msgspec.json.Decoder:
    """MLflow's scoring body. Rows (dataframe_records, a list of instances or inputs) decode
    typed in one pass; the column-oriented shapes arrive as plain JSON for a second check."""
    return msgspec.json.Decoder(invocation_type(max_rows))


def invocation_type(max_rows: int | None) -> Any:
    records, columns = records_type(max_rows), dict[str, list[Any]]
    split = msgspec.defstruct(
        "DataframeSplit",
        [("columns", list[str]), ("data", list[list[Any]]), ("index", list[Any] | None, None)],
        forbid_unknown_fields=True,
    )
    return msgspec.defstruct(
        "Invocation",
        [
            ("dataframe_split", split | None, None),
            ("dataframe_records", records | None, None),
            ("instances", records | columns | None, None),
            ("inputs", records | columns | None, None),
            ("params", dict[str, Any] | None, None),  # MLflow's inference params: none here
        ],
        forbid_unknown_fields=True,
    )


def _batch(max_rows: int) -> type:
    return msgspec.defstruct(
        "Batch", [("customers", records_type(max_rows))], forbid_unknown_fields=True
    )


def openapi_body(schema: dict) -> dict:
    """OpenAPI for a body the route validates itself (from the bytes, which is faster), so
    /docs shows it and a fuzzer generates it."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def json_schema(kind: Any) -> dict:
    """A self-contained JSON schema for OpenAPI (msgspec puts structs under $defs)."""
    found = msgspec.json.schema(kind)
    return _inline(found, found.pop("$defs", {}))


def _inline(node: Any, definitions: dict) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


_PATH = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"field `(?P<name>[^`]+)`")


def field_and_problem(error: msgspec.ValidationError, prefix: str = "") -> tuple[str, str]:
    """("customers[3].tenure", "Expected `int`, got `str`") from msgspec's message."""
    text = str(error)
    match = _PATH.match(text)  # the path part is optional: every text matches
    problem, path = (match["problem"], match["path"] or "") if match else (text, "")
    if named := _NAMED.search(problem):  # missing or unknown field: the name is in the text
        path = f"{path}.{named['name']}"
    name = f"{prefix}{path}".lstrip(".")
    return name or "body", problem
