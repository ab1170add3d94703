"""Prediction routes through FastAPI's TestClient: the answers equal the registered model's."""

from datetime import datetime

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.io.prediction_log import read_predictions

pytestmark = pytest.mark.integration


def test_one_customer_scores_like_the_registered_model(client, records, champion_scores):
    answer = client.post("/predict", json=records[0])

    body = answer.json()
    assert answer.status_code == 200
    assert body["churn_probability"] == pytest.approx(champion_scores[0, 1], abs=1e-12)
    assert body["model_version"] == answer.headers["x-model-version"] == "1"
    assert body["request_id"] == answer.headers["x-request-id"]


def test_a_batch_scores_every_customer_in_order(client, records, champion_scores):
    answer = client.post("/predict/batch", json={"customers": records})

    scores = np.array(answer.json()["churn_probability"])
    assert answer.status_code == 200
    np.testing.assert_allclose(scores, champion_scores[:, 1], rtol=0, atol=1e-12)


def test_a_caller_request_id_is_kept_and_a_hostile_one_replaced(client, records):
    kept = client.post("/predict", json=records[0], headers={"X-Request-ID": "order-42.a"})
    replaced = client.post("/predict", json=records[0], headers={"X-Request-ID": "a b\\r\\n"})

    assert kept.json()["request_id"] == kept.headers["x-request-id"] == "order-42.a"
    assert len(replaced.headers["x-request-id"]) == 32


@pytest.mark.parametrize("shape", ["dataframe_records", "dataframe_split", "instances", "inputs"])
def test_invocations_answers_every_mlflow_input_shape_as_mlflow_does(
    client, customers, records, champion_scores, shape
):
    rows = customers.head(20)
    payloads = {
        "dataframe_records": records[:20],
        "dataframe_split": {
            "columns": list(rows.columns),
            "data": [list(r.values()) for r in records[:20]],
        },
        "instances": records[:20],
        "inputs": {column: [r[column] for r in records[:20]] for column in rows.columns},
    }

    answer = client.post("/invocations", json={shape: payloads[shape]})

    assert answer.status_code == 200
    np.testing.assert_allclose(answer.json()["predictions"], champion_scores[:20], atol=1e-12)


def test_open_inference_protocol_metadata_and_infer(client, records, champion_scores):
    name = client.get("/model").json()["name"]
    inputs = [
        {
            "name": column,
            "shape": [5],
            "datatype": "BYTES",
            "data": [r[column] for r in records[:5]],
        }
        for column in records[0]
    ]

    metadata = client.get(f"/v2/models/{name}").json()
    answer = client.post(f"/v2/models/{name}/infer", json={"id": "call-1", "inputs": inputs})

    assert [item["name"] for item in metadata["inputs"]] == list(records[0])
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get(f"/v2/models/{name}/ready").json() == {"ready": True}
    assert answer.json()["id"] == "call-1"
    output = answer.json()["outputs"][0]
    np.testing.assert_allclose(output["data"], champion_scores[:5, 1], atol=1e-12)
    assert client.get("/v2/models/another/ready").status_code == 404


def test_every_prediction_is_logged_with_its_request_model_features_and_score(client, records):
    before = len(read_predictions(client.log_dir).records)

    answer = client.post("/predict/batch", json={"customers": records[:7]}).json()

    logged = read_predictions(client.log_dir).records[before:]
    assert len(logged) == 7
    assert {line["request_id"] for line in logged} == {answer["request_id"]}
    assert [line["score"] for line in logged] == answer["churn_probability"]
    assert [line["features"] for line in logged] == records[:7]
    assert all(line["model_version"] == "1" for line in logged)
    assert all(datetime.fromisoformat(line["time"]).tzinfo is not None for line in logged)
