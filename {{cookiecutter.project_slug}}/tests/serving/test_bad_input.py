"""Bad input gets a 4xx whose body names the field; no payload, however odd, gets a 5xx."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.core import schema

pytestmark = pytest.mark.integration


def problem(answer) -> tuple[int, str, str]:
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["message"]


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"tenure": "12"}, "tenure", 422),  # wrong type
        ({"tenure": 1.5}, "tenure", 422),  # not a whole number
        ({"SeniorCitizen": True}, "SeniorCitizen", 422),
        ({"tenure": 500}, "tenure", 422),  # out of range
        ({"MonthlyCharges": -3.0}, "MonthlyCharges", 422),
        ({"gender": "Other"}, "gender", 422),  # unknown category
        ({"InternetService": "DSL "}, "InternetService", 422),
        ({"tenure": None}, "tenure", 422),  # only TotalCharges may be blank
        ({"favourite_colour": "blue"}, "favourite_colour", 422),  # extra
        ({"customerID": "x" * 65}, "customerID", 422),
    ],
)
def test_every_invalid_field_is_named(client, records, change, field, status):
    answer = client.post("/predict", json={**records[0], **change})

    code, kind, message = problem(answer)
    assert (code, kind) == (status, "invalid_input")
    assert message.startswith(field)
    assert answer.json()["error"]["fields"][0]["field"] == field


def test_a_missing_field_is_named(client, records):
    record = {key: value for key, value in records[0].items() if key != "Contract"}

    assert problem(client.post("/predict", json=record))[2].startswith("Contract")


def test_the_field_path_points_into_the_batch(client, records):
    customers = [*records[:3], {**records[3], "tenure": "long"}]

    answer = client.post("/predict/batch", json={"customers": customers})
    mlflow = client.post("/invocations", json={"dataframe_records": customers})

    assert problem(answer)[2].startswith("customers[3].tenure")
    assert problem(mlflow)[2].startswith("dataframe_records[3].tenure")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"gender": "Female",', 400, "malformed_json"),
        (b"", 400, "malformed_json"),
        (b"[1, 2]", 422, "invalid_input"),
    ],
)
def test_a_body_that_is_not_a_customer_is_refused(client, body, status, code):
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})

    assert problem(answer)[:2] == (status, code)


def test_an_empty_or_oversize_batch_names_the_list(make_client, records, ready):
    with make_client(serve_max_batch_rows=5) as small:
        ready(small)
        empty = small.post("/predict/batch", json={"customers": []})
        oversize = small.post("/predict/batch", json={"customers": records[:6]})
        at_limit = small.post("/predict/batch", json={"customers": records[:5]})

    assert problem(empty)[0] == problem(oversize)[0] == 422
    assert problem(oversize)[2].startswith("customers")
    assert "5" in problem(oversize)[2]
    assert at_limit.status_code == 200


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(make_client, records, ready):
    with make_client(serve_max_body_bytes=2_000) as small:
        ready(small)
        answer = small.post("/predict/batch", json={"customers": records[:20]})

    assert problem(answer)[:2] == (413, "payload_too_large")


def test_mlflow_shapes_that_do_not_fit_are_named(client, records):
    two_formats = {"instances": records[:1], "inputs": records[:1]}
    short_row = {"dataframe_split": {"columns": list(records[0]), "data": [[1, 2]]}}
    ragged = {"inputs": {"tenure": [1, 2], "gender": ["Male"]}}

    assert "exactly one of" in problem(client.post("/invocations", json=two_formats))[2]
    assert problem(client.post("/invocations", json=short_row))[2].startswith(
        "dataframe_split.data[0]"
    )
    assert problem(client.post("/invocations", json=ragged))[2].startswith("inputs")


@pytest.mark.parametrize("name", [["tenure"], {"a": 1}, None, 3])
def test_a_v2_tensor_whose_name_is_not_a_string_is_refused(client, name):
    # Found by the fuzzer (make fuzz): a list as a tensor name was a 500 (unhashable key).
    tensor = {"name": name, "datatype": "INT64", "shape": [1], "data": [1]}
    model = client.get("/model").json()["name"]

    answer = client.post(f"/v2/models/{model}/infer", json={"inputs": [tensor]})

    assert problem(answer)[:2] == (422, "invalid_input")
    assert problem(answer)[2].startswith("inputs")


def test_unknown_routes_and_methods_answer_json(client):
    assert problem(client.get("/predictions"))[:2] == (404, "not_found")
    assert problem(client.get("/predict"))[:2] == (405, "method_not_allowed")


# --- property-based: generated bad payloads never reach a 5xx ---------------------------------

FIELDS = list(schema.INPUT_COLUMNS)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


def fits(field: str, value) -> bool:
    """Whether ``value`` is valid for ``field`` under the contract."""
    if field in schema.CATEGORIES:
        return isinstance(value, str) and value in schema.CATEGORIES[field]
    if value is None:
        return field in schema.MAY_BE_BLANK
    low, high, whole = schema.NUMBERS[field]
    kinds = int if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and low <= value <= high


@st.composite
def broken_customers(draw, base: dict) -> tuple[dict, str]:
    """A valid customer with one thing wrong, and the field that is wrong."""
    record = dict(base)
    field = draw(st.sampled_from(FIELDS))
    how = draw(st.sampled_from(["drop", "replace", "add"]))
    if how == "drop":
        del record[field]
    elif how == "replace":
        record[field] = draw(JSON_VALUES.filter(lambda value: not fits(field, value)))
    else:
        field = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda k: k not in base))
        record[field] = draw(JSON_VALUES)
    return record, field


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_bad_customers_get_a_4xx_naming_the_field(client, records, data):
    record, field = data.draw(broken_customers(records[0]))
    route = data.draw(st.sampled_from(["/predict", "/predict/batch", "/invocations"]))
    body = {
        "/predict": record,
        "/predict/batch": {"customers": [records[1], record]},
        "/invocations": {"dataframe_records": [record]},
    }[route]

    answer = client.post(route, json=body)

    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.json()["error"]["message"]


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200) | JSON_VALUES.map(lambda value: repr(value).encode()))
def test_arbitrary_bytes_never_get_a_5xx(client, body):
    for route in ("/predict", "/predict/batch", "/invocations"):
        answer = client.post(route, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= answer.status_code < 500, answer.text
