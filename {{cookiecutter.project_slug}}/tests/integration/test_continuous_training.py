"""The whole loop on embedded defaults: a champion in the registry (SQLite), the real server
(uvicorn on 127.0.0.1) answering drifted traffic into its prediction log, then the `ct` loop:
the drift job flags the log, retraining registers a challenger, the gate promotes it and the
server switches to it; a deliberately worse challenger is rejected and the server stays.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
{%- if cookiecutter|layer_enabled("governance") %}
from collections import Counter
{%- endif %}
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.configs import (
    GradientBoostingConfig,
    ModelConfig,
    PipelineConfig,
    SyntheticConfig,
)
{%- if cookiecutter|layer_enabled("governance") %}
from {{ cookiecutter.package_name }}.core.lineage import RECORDED_TAG
{%- endif %}
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.core.validation import validate_customers
from {{ cookiecutter.package_name }}.io import tracking
{%- if cookiecutter|layer_enabled("governance") %}
from {{ cookiecutter.package_name }}.io.audit_log import read_lines
{%- endif %}
from {{ cookiecutter.package_name }}.jobs import ct, generate{% if cookiecutter|layer_enabled("governance") %}, governance{% endif %}, pipeline, register
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=3_000, seed=31))
#: One split of one feature: far too simple to rank churners as well as the champion.
WORSE = CONFIG.model_copy(
    update={
        "model": ModelConfig(
            kind="gradient_boosting",
            gradient_boosting=GradientBoostingConfig(max_iter=1, max_leaf_nodes=2),
        )
    }
)
DRIFT = 1.0
TRAFFIC_BATCHES, BATCH_ROWS = 6, 100  # 600 predictions in the log, above monitoring.min_rows
ADMIN_TOKEN = "ct-admin-token"
#: The server imports MLflow and loads the model: seconds here, a minute or more on a machine
#: busy with other suites. The bound only turns a hang into a failure.
START_SECONDS = 600


class Server:
    """The prediction server in its own process group, spoken to over HTTP."""

    def __init__(self, folder: Path, settings: Settings):
        self.port, self.log = free_port(), folder / "server.log"
        env = {
            **os.environ,
            f"{ENV_PREFIX}MLFLOW_DIR": str(settings.mlflow_dir),
            f"{ENV_PREFIX}SERVE_ADMIN_TOKEN": ADMIN_TOKEN,
            f"{ENV_PREFIX}PREDICTION_LOG_DIR": str(folder / "predictions"),
{%- if cookiecutter|layer_enabled("governance") %}
            f"{ENV_PREFIX}AUDIT_LOG_DIR": str(settings.audit_log_dir),
{%- endif %}
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        # The package as this test imports it, installed or not.
        source = str(Path({{ cookiecutter.package_name }}.__file__).parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", "--port", str(self.port)]
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                command,
                cwd=folder,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body=None) -> tuple[int, dict, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, payload, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        data = json.loads(answer.read() or b"null")
        connection.close()
        return answer.status, dict(answer.getheaders()), data

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log.read_text()[-3000:]}")
            try:
                if self.call("GET", "/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"not ready in {START_SECONDS} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def served_version(self, record: dict) -> tuple[str, str]:
        """What GET /model says, and the X-Model-Version of a prediction."""
        _, _, model = self.call("GET", "/model")
        status, headers, _ = self.call("POST", "/predict", record)
        assert status == 200
        return model["version"], headers["x-model-version"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drifted_customers(rows: int, seed: int) -> list[dict]:
    """Customers as a client sends them: typed by the contract, a blank TotalCharges null."""
    raw = generate_customers(rows, np.random.default_rng(seed), drift=DRIFT).astype(str)
    typed = validate_customers(raw).valid[list(INPUT_COLUMNS)]
    return json.loads(typed.to_json(orient="records"))


@pytest.fixture(scope="module")
def world(tmp_path_factory, tracked_settings):
    """A champion (version 1, trained on calm data), served, with drifted traffic logged."""
    folder = tmp_path_factory.mktemp("continuous-training")
    settings = tracked_settings(folder, serve_admin_token=SecretStr(ADMIN_TOKEN))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(folder)
        pipeline.run(settings, CONFIG, progress=False)
        assert register.run(settings, CONFIG).alias == tracking.CHAMPION
        server = Server(folder, settings)
        try:
            server.wait_ready()
            customers = drifted_customers(TRAFFIC_BATCHES * BATCH_ROWS, seed=32)
            for start in range(0, len(customers), BATCH_ROWS):
                batch = {"customers": customers[start : start + BATCH_ROWS]}
                assert server.call("POST", "/predict/batch", batch)[0] == 200
            yield settings.model_copy(update={"serve_url": server.url}), server, folder, customers
        finally:
            server.stop()


def loop(settings: Settings, config: PipelineConfig, current: Path, batch: Path, trigger: str):
    """One turn of the ct loop; its lines go to the test's output on a failure."""
    result = ct.run(
        settings,
        config,
        current,
        batch,
        trigger=trigger,
        actor="e2e",
        runs_dir=Path("runs"),
        say=print,
    )
    assert result.registered is not None
    assert result.promotion is not None
    assert result.promotion.decision is not None
    return result, result.registered, result.promotion, result.promotion.decision


def test_drift_retrains_promotes_and_the_server_switches_then_a_worse_model_is_rejected(world):
    settings, server, folder, customers = world
    labelled = SyntheticConfig(rows=4_000, seed=33, drift=DRIFT)
    batch = generate.run(labelled, folder / "incoming" / "batch.csv", progress=False).path
    assert server.served_version(customers[0]) == ("1", "1")

    better, registered, promotion, decision = loop(
        settings, CONFIG, folder / "predictions", batch, "drift"
    )

    assert better.drift.summary["dataset_drift"]
    assert better.drift.summary["prediction_drift"]["drifted"]
    assert registered.version == "2"
    assert decision.promote
    assert better.exit_code == 0
    assert "reloaded: now serving version 2" in promotion.server
    assert tracking.describe(settings, tracking.CHAMPION).version == "2"
    assert server.served_version(customers[0]) == ("2", "2")

    # The same batch again (no drift against the new champion's data), retrained regardless.
    worse, registered, promotion, decision = loop(settings, WORSE, batch, batch, "new-data")

    assert not worse.drift.summary["dataset_drift"]
    assert registered.version == "3"
    assert not decision.promote
    assert decision.summary.startswith("failed: roc_auc")
    assert promotion.server == ""  # a rejection leaves the server alone
    assert tracking.version_tags(settings, "3")["gate.decision"] == "rejected"
    assert tracking.describe(settings, tracking.CHAMPION).version == "2"
    assert server.served_version(customers[0]) == ("2", "2")
{%- if cookiecutter|layer_enabled("governance") %}

    # Governance: every version has its lineage and model card in its run; the one audit log
    # holds the traffic and both decisions, and its chain verifies.
    for version in ("1", "2", "3"):
        assert RECORDED_TAG in tracking.version_tags(settings, version)
        run_id, fetched = tracking.version_entry(settings, version).run_id, folder / version
        assert tracking.download_run_folder(settings, run_id, "governance", fetched)
        assert {governance.LINEAGE_JSON, governance.CARD_MD, governance.CARD_HTML} <= {
            path.name for path in (fetched / "governance").iterdir()
        }
    kinds = Counter(json.loads(line.text)["kind"] for line in read_lines(settings.audit_log_dir))
    assert kinds["prediction"] >= TRAFFIC_BATCHES * BATCH_ROWS
    assert kinds["promotion"] == 2
    assert governance.verify_audit(settings.audit_log_dir).ok
{%- endif %}
