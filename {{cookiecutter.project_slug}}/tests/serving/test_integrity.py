"""Model files are checked against the SHA-256 recorded at registration before they are loaded:
a registry of its own (SQLite) whose version 2 has one byte changed in its stored weights."""

import json
import logging
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.configs import PipelineConfig, SyntheticConfig
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.io.datasets import read_customers
from {{ cookiecutter.package_name }}.jobs import export, pipeline, register
from {{ cookiecutter.package_name }}.serving.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=2_000, seed=13))
ADMIN = {"Authorization": "Bearer admin-secret"}
CHANGED = "model files changed since registration"


@pytest.fixture(scope="module")
def tampered(tmp_path_factory, tracked_settings) -> Settings:
    """Version 1 (champion) intact; version 2 (challenger) with one byte of its stored model
    file flipped, as a disk fault or an edit in the artifact store would leave it."""
    folder = tmp_path_factory.mktemp("tampered-registry")
    settings = tracked_settings(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(folder)
        pipeline.run(settings, CONFIG, progress=False)
        register.run(settings, CONFIG)
        register.run(settings, CONFIG)
    flip_one_byte(stored_folder(settings, "2") / "model.skops")
    return settings


def stored_folder(settings: Settings, version: str) -> Path:
    """Where the registry keeps a version's model files (the store's own copy)."""
    client = tracking.connect(settings)
    uri = client.get_model_version_download_uri(settings.registered_model_name, version)
    return Path(urlparse(uri).path)


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_registration_records_the_digest_of_the_stored_files(tampered, tmp_path):
    registered = json.loads(tampered.registered_json.read_text())
    tags = tracking.version_tags(tampered, "1")

    digest = tracking.model_sha256(stored_folder(tampered, "1"))

    assert tags[tracking.CHECKSUM_TAG] == digest
    assert len(digest) == 64
    assert registered["model_sha256"] == tracking.version_tags(tampered, "2")[tracking.CHECKSUM_TAG]
    # Reproducible: the same files elsewhere (and MLflow's download note) give the same digest.
    copy = shutil.copytree(stored_folder(tampered, "1"), tmp_path / "copy")
    (copy / "registered_model_meta").write_text("model_name: x\n")
    assert tracking.model_sha256(copy) == digest


def test_a_changed_version_is_refused_before_it_is_deserialized(tampered):
    expected = tracking.version_tags(tampered, "2")[tracking.CHECKSUM_TAG]

    with pytest.raises(tracking.TrackingError) as refused:
        tracking.load_version(tampered, version="2")

    message = str(refused.value)
    assert message.startswith(f"{tampered.registered_model_name} version 2: {CHANGED}")
    assert f"registered {expected}" in message
    found = message.split("(sha256 ")[1].split(",")[0]
    assert len(found) == 64
    assert found != expected
    assert "\n" not in message
    # Version 1 still loads.
    model, entry = tracking.load_version(tampered, version="1")
    assert entry.version == "1"
    assert hasattr(model, "predict_proba")


def test_the_server_does_not_start_on_a_changed_version(tampered, ready):
    settings = tampered.model_copy(update={"serve_alias": tracking.CHALLENGER})
    with TestClient(create_app(settings)) as client:
        answer = ready(client)
        status = client.get("/ready").status_code

    assert answer["ready"] is False
    assert status == 503
    assert f"version 2: {CHANGED}" in answer["reason"]


def test_a_reload_to_a_changed_version_is_refused_and_the_old_one_still_answers(tampered, ready):
    row = read_customers(tampered.test_table)[list(INPUT_COLUMNS)].head(1)
    record = json.loads(row.to_json(orient="records"))[0]
    settings = tampered.model_copy(update={"serve_admin_token": SecretStr("admin-secret")})
    with TestClient(create_app(settings)) as client:
        assert ready(client)["ready"]

        refused = client.post("/admin/reload", json={"version": "2"}, headers=ADMIN)
        model = client.get("/model").json()
        predicted = client.post("/predict", json=record)

    assert refused.status_code == 422
    assert CHANGED in refused.json()["error"]["message"]
    assert refused.json()["error"]["message"].endswith("still serving version 1")
    assert model["version"] == "1"
    assert predicted.status_code == 200


def test_an_exported_copy_is_checked_against_the_digest_it_carries(tampered, tmp_path, ready):
    folder = tmp_path / "exported"
    entry = export.run(tampered, tracking.CHAMPION, folder)
    written = json.loads((folder / tracking.ENTRY_FILE).read_text())
    assert written["model_sha256"] == entry.model_sha256 != ""
    assert tracking.load_exported(folder, entry.model_sha256) is not None

    flip_one_byte(folder / "MLmodel")
    settings = tampered.model_copy(update={"serve_model_dir": folder})
    with TestClient(create_app(settings)) as client:
        answer = ready(client)

    assert answer["ready"] is False
    assert f"the model in {folder}: {CHANGED}" in answer["reason"]


def test_an_export_replaces_an_earlier_one_whole_and_nothing_else(tampered, tmp_path):
    folder = tmp_path / "exported"
    export.run(tampered, tracking.CHAMPION, folder)
    (folder / "left-over.txt").write_text("from an earlier export")
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("not an export")

    entry = export.run(tampered, tracking.CHAMPION, folder)

    assert not (folder / "left-over.txt").exists()
    assert tracking.load_exported(folder, entry.model_sha256) is not None
    with pytest.raises(tracking.TrackingError, match="is not empty and holds no export"):
        export.run(tampered, tracking.CHAMPION, other)
    assert (other / "mine.txt").read_text() == "not an export"


def test_a_changed_version_cannot_be_exported(tampered, tmp_path):
    client = tracking.connect(tampered)
    client.set_registered_model_alias(tampered.registered_model_name, "suspect", "2")

    with pytest.raises(tracking.TrackingError, match=CHANGED):
        export.run(tampered, "suspect", tmp_path / "exported")

    assert not (tmp_path / "exported").exists()


def test_a_version_registered_without_a_digest_loads_with_a_warning(tampered, caplog):
    client = tracking.connect(tampered)
    name = tampered.registered_model_name
    digest = tracking.version_tags(tampered, "1")[tracking.CHECKSUM_TAG]
    client.delete_model_version_tag(name, "1", tracking.CHECKSUM_TAG)  # as older templates left it
    try:
        with caplog.at_level(logging.WARNING):
            _, entry = tracking.load_version(tampered, version="1")
    finally:
        client.set_model_version_tag(name, "1", tracking.CHECKSUM_TAG, digest)

    assert entry.model_sha256 == ""
    assert f"version 1 has no {tracking.CHECKSUM_TAG} tag: loading it unverified" in caplog.text
