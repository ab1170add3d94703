"""Operations routes and security through FastAPI's TestClient: readiness, metrics, reload, keys."""

import asyncio

import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.serving.errors import ApiError
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer admin-secret"}  # conftest.ADMIN_TOKEN
PREFIX = "{{ cookiecutter.package_name }}_"
#: The logs a prediction is written to before it is answered.
LOG_SETTINGS = ["prediction_log_dir"{% if cookiecutter|layer_enabled("governance") %}, "audit_log_dir"{% endif %}]


def test_health_is_live_and_ready_names_the_version(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True, "model_version": "1"}


def test_model_names_version_alias_run_and_data_hash(client, registry):
    about = client.get("/model").json()

    entry = tracking.describe(registry, tracking.CHAMPION)
    assert (about["name"], about["version"], about["alias"]) == (entry.name, "1", "champion")
    assert about["run_id"] == entry.run_id
    assert len(about["data_md5"]) == 32
    assert about["scorer"] == "compiled"
    assert about["self_check_difference"] <= 1e-12


def test_metrics_count_requests_errors_rows_and_name_the_model(client, records):
    client.post("/predict", json=records[0])
    client.post("/predict", json={**records[0], "tenure": -1})

    lines = client.get("/metrics").text.splitlines()

    def value(sample: str) -> float:
        (found,) = [line for line in lines if line.startswith(PREFIX + sample + " ")]
        return float(found.rsplit(" ", 1)[1])

    assert value('requests_total{route="/predict",method="POST",status="200"}') >= 1
    assert value('requests_total{route="/predict",method="POST",status="422"}') >= 1
    assert value('errors_total{code="invalid_input"}') >= 1
    assert value('request_duration_seconds_bucket{route="/predict",le="+Inf"}') >= 2
    assert value("rows_scored_total") >= 1
    assert any(line.startswith(PREFIX + "model_info{") and 'version="1"' in line for line in lines)


def test_admin_routes_need_the_token_and_are_off_without_one(client, make_client, ready):
    assert client.post("/admin/reload").status_code == 401
    wrong = client.post("/admin/reload", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    assert "Authorization" in wrong.json()["error"]["message"]
    with make_client() as untokened:
        ready(untokened)
        answer = untokened.post("/admin/reload", headers=ADMIN)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "admin_disabled")


def test_reload_swaps_to_a_new_version_and_back(client, customers, records, registry):
    retrained, _ = tracking.load_version(registry, version="2")
    expected = retrained.predict_proba(customers.head(1))[0, 1]

    swapped = client.post("/admin/reload", headers=ADMIN, json={"version": "2"})
    after = client.post("/predict", json=records[0]).json()
    back = client.post("/admin/reload", headers=ADMIN, json={"alias": "champion"})

    assert swapped.status_code == 200
    assert (swapped.json()["previous_version"], swapped.json()["version"]) == ("1", "2")
    assert after["model_version"] == "2"
    assert after["churn_probability"] == pytest.approx(expected, abs=1e-12)
    assert back.json()["version"] == "1"


@pytest.mark.parametrize(
    ("wanted", "cause"), [({"version": "3"}, "self-check"), ({"version": "99"}, "99")]
)
def test_a_broken_or_missing_version_is_refused_and_the_old_one_keeps_serving(
    client, records, wanted, cause
):
    refused = client.post("/admin/reload", headers=ADMIN, json=wanted)
    still = client.post("/predict", json=records[0])

    error = refused.json()["error"]
    assert (refused.status_code, error["code"]) == (422, "reload_refused")
    assert cause in error["message"]
    assert "still serving version 1" in error["message"]
    assert (still.status_code, still.json()["model_version"]) == (200, "1")
    assert client.get("/ready").json()["ready"] is True


def test_an_api_key_guards_prediction_routes_only(make_client, records, ready):
    with make_client(serve_api_key=SecretStr("k-123")) as guarded:
        ready(guarded)
        missing = guarded.post("/predict", json=records[0])
        wrong = guarded.post("/predict", json=records[0], headers={"X-API-Key": "k-12"})
        right = guarded.post("/predict", json=records[0], headers={"X-API-Key": "k-123"})
        batch = guarded.post("/invocations", json={"instances": records[:2]})

        assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
        assert batch.status_code == 401
        assert guarded.get("/health").status_code == guarded.get("/ready").status_code == 200


def test_a_server_whose_model_cannot_load_is_live_but_not_ready(make_client, records, ready):
    with make_client(serve_alias="no-such-alias") as lost:
        answer = ready(lost)
        prediction = lost.post("/predict", json=records[0])

        assert lost.get("/health").status_code == 200
        assert answer["ready"] is False
        assert "no-such-alias" in answer["reason"]
        assert lost.get("/ready").status_code == 503
        assert (prediction.status_code, prediction.json()["error"]["code"]) == (
            503,
            "model_not_ready",
        )


@pytest.mark.parametrize("setting", LOG_SETTINGS)
def test_a_log_it_cannot_write_makes_it_unready_and_predictions_503_until_fixed(
    make_client, records, tmp_path, ready, setting
):
    in_the_way = tmp_path / "logs"
    in_the_way.write_text("a file where the log folder's parent must be")  # root cannot either
    with make_client(**{setting: in_the_way / "folder"}) as client:
        answer = ready(client)
        refused = client.post("/predict", json=records[0])
        v2_ready = client.get("/v2/health/ready").status_code
        in_the_way.unlink()  # fixed while the server runs, as mounting a volume would
        fixed = client.get("/ready")
        scored = client.post("/predict", json=records[0])

    folder = in_the_way / "folder"
    assert answer["ready"] is False
    assert f"{folder} cannot be written ({in_the_way} refuses it)" in answer["reason"]
    assert f"set {ENV_PREFIX}{setting.upper()}" in answer["reason"]
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "log_unwritable")
    assert v2_ready == 503
    assert (fixed.status_code, scored.status_code) == (200, 200)
    assert any(folder.iterdir())


def test_an_exported_copy_serves_without_the_registry(
    make_client, registry, records, tmp_path, ready
):
    from {{ cookiecutter.package_name }}.jobs import export

    entry = export.run(registry, tracking.CHAMPION, tmp_path / "exported")
    offline = {"serve_model_dir": tmp_path / "exported", "mlflow_dir": tmp_path / "no-registry"}

    with make_client(**offline) as client:
        answer = ready(client)
        about = client.get("/model").json()
        scored = client.post("/predict", json=records[0])

    assert answer["ready"] is True
    assert (about["version"], about["run_id"]) == (entry.version, entry.run_id)
    assert about["source"] == str(tmp_path / "exported")
    assert scored.status_code == 200
    assert not (tmp_path / "no-registry").exists()


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(make_client, records, ready):
    with make_client() as client:
        ready(client)
        client.app.state.slot.current.scorer.score = None  # a bug: calling it raises TypeError
        with_bug = type(client)(client.app, raise_server_exceptions=False)
        answer = with_bug.post("/predict", json=records[0])

    body = answer.json()
    assert answer.status_code == 500
    assert body["error"]["code"] == "internal_error"
    assert body["request_id"] in body["error"]["message"]
    assert "Traceback" not in answer.text
    assert "TypeError" not in answer.text


def test_an_empty_log_folder_setting_turns_the_log_off(monkeypatch):
    from {{ cookiecutter.package_name }}.settings import Settings

    monkeypatch.setenv(f"{ENV_PREFIX}PREDICTION_LOG_DIR", "")

    assert Settings().prediction_log_dir is None


def test_openapi_documents_the_contract_for_the_routes_that_read_raw_bodies(client):
    from {{ cookiecutter.package_name }}.core import schema

    paths = client.get("/openapi.json").json()["paths"]

    body = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert list(body["properties"])[: len(schema.INPUT_COLUMNS)] == list(schema.INPUT_COLUMNS)
    assert set(body["properties"]["Contract"]["enum"]) == set(schema.CATEGORIES["Contract"])
    assert body["properties"]["tenure"]["maximum"] == schema.NUMBERS["tenure"][1]
    assert {"/predict/batch", "/invocations", "/admin/reload", "/metrics"} <= set(paths)


def test_a_reload_while_another_runs_is_refused_with_409(client):
    slot = client.app.state.slot

    async def second_reload():
        async with slot._loading:  # a first reload is under way
            return await slot.load()

    with pytest.raises(ApiError) as refused:
        asyncio.run(second_reload())

    assert (refused.value.status, refused.value.code) == (409, "reload_in_progress")
    assert client.get("/ready").json()["ready"] is True
