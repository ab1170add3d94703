"""Every prediction the server answers is in the audit log first: the request id, the model
version, a hash of the validated input (never the values) and the score, fsync'd in durable mode."""

import json
import os
import time

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.core.audit import input_hash
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io.audit_log import read_lines
from {{ cookiecutter.package_name }}.io.datasets import read_customers
from {{ cookiecutter.package_name }}.jobs.governance import verify_audit
from {{ cookiecutter.package_name }}.serving.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow]
#: Loading imports MLflow and reads the model: seconds here, a minute or more on a machine
#: busy with other suites. The bound only turns a hang into a failure.
READY_SECONDS = 600


@pytest.fixture
def served(registry, tmp_path, monkeypatch):
    """A durable audit log, fsyncs counted, and the server over the registry's champion."""
    synced: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    settings = registry.settings.model_copy(
        update={
            "audit_log_dir": tmp_path / "audit",
            "audit_durable": True,
            "prediction_log_dir": None,
        }
    )
    rows = read_customers(settings.test_table)[list(INPUT_COLUMNS)].head(3)
    customers = json.loads(rows.to_json(orient="records"))
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + READY_SECONDS
        while not client.get("/ready").json()["ready"]:
            assert time.monotonic() < deadline, f"not ready after {READY_SECONDS} s"
            time.sleep(0.05)
        yield client, customers, settings.audit_log_dir, synced


def audit_records(folder) -> list[dict]:
    return [json.loads(line.text) for line in read_lines(folder)]


def test_a_prediction_is_audited_by_input_hash(served):
    client, customers, folder, _ = served
    sent = {**customers[0], "customerID": "7590-VHVEG"}

    answer = client.post("/predict", json=sent)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    (record,) = audit_records(folder)
    assert record["kind"] == "prediction"
    assert record["payload"] == {
        "request_id": body["request_id"],
        "row": 0,
        "model_version": body["model_version"],
        "input_sha256": input_hash(sent),
        "score": body["churn_probability"],
    }


def test_the_audit_log_holds_no_raw_feature_values(served):
    client, customers, folder, _ = served
    sent = {**customers[0], "customerID": "7590-VHVEG"}

    assert client.post("/predict", json=sent).status_code == 200

    (line,) = list(read_lines(folder))
    for name in (*INPUT_COLUMNS, "customerID", "7590-VHVEG", sent["Contract"]):
        assert name not in line.text


def test_a_batch_is_one_record_per_row_in_order(served):
    client, customers, folder, synced = served

    answer = client.post("/predict/batch", json={"customers": customers})

    assert answer.status_code == 200, answer.text
    records = audit_records(folder)
    assert [r["payload"]["row"] for r in records] == [0, 1, 2]
    assert {r["payload"]["request_id"] for r in records} == {answer.json()["request_id"]}
    assert [r["payload"]["input_sha256"] for r in records] == [input_hash(c) for c in customers]
    assert [r["payload"]["score"] for r in records] == answer.json()["churn_probability"]
    assert len(synced) >= 1  # durable: on disk before the answer


def test_durable_mode_syncs_each_request_and_the_chain_verifies(served):
    client, customers, folder, synced = served
    before = len(synced)

    for customer in customers:
        assert client.post("/predict", json=customer).status_code == 200

    assert len(synced) - before >= len(customers)
    assert verify_audit(folder).ok
    assert verify_audit(folder).records == len(customers)
