"""The promotion gate against the real MLflow registry (SQLite in a temporary folder).

Version 1 (trained on calm data) is the champion; version 2, retrained on a drifted batch, must
win on that batch's holdout; version 3, a single split, must lose to version 2.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
{%- if cookiecutter|layer_enabled("serving") %}
from pydantic import SecretStr, ValidationError
{%- endif %}
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.configs import (
    GradientBoostingConfig,
    ModelConfig,
    PipelineConfig,
    SyntheticConfig,
)
{%- if cookiecutter|layer_enabled("serving") %}
from {{ cookiecutter.package_name }}.io import model_server, tracking
{%- else %}
from {{ cookiecutter.package_name }}.io import tracking
{%- endif %}
{%- if cookiecutter|layer_enabled("governance") %}
from {{ cookiecutter.package_name }}.io.audit_log import read_lines
{%- endif %}
from {{ cookiecutter.package_name }}.io.datasets import read_customers, write_table
from {{ cookiecutter.package_name }}.jobs import generate, pipeline, promote, register
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG = PipelineConfig(synthetic=SyntheticConfig(rows=3_000, seed=11))
DRIFTED = SyntheticConfig(rows=3_000, seed=12, drift=0.8)
#: One split of one feature: far too simple to rank churners as well as a real model.
WORSE = CONFIG.model_copy(
    update={
        "model": ModelConfig(
            kind="gradient_boosting",
            gradient_boosting=GradientBoostingConfig(max_iter=1, max_leaf_nodes=2),
        )
    }
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[tuple[Settings, Path]]:
    """Version 1 as the champion, and a drifted labelled batch for the challengers."""
    folder = tmp_path_factory.mktemp("promote")
    settings = workspace(folder, "champion")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(folder)
        pipeline.run(settings, CONFIG, progress=False)
        register.run(settings, CONFIG)
        batch = generate.run(DRIFTED, folder / "batch.csv", progress=False).path
        yield settings, batch


def workspace(folder: Path, name: str, batch: Path | None = None) -> Settings:
    """Settings of one training run in its own folder; one registry for all of them."""
    return Settings(
        data_dir=folder / name / "data",
        models_dir=folder / name / "models",
        reports_dir=folder / name / "reports",
        mlflow_dir=folder / "mlflow",
        input_csv=batch,
        tracking_uri=None,
    )


def challenger(registry, name: str, config: PipelineConfig) -> Settings:
    """Train on the drifted batch in its own workspace and register the result (@challenger)."""
    settings, batch = registry
    run_settings = workspace(settings.mlflow_dir.parent, name, batch)
    pipeline.run(run_settings, config, progress=False)
    assert register.run(run_settings, config).alias == tracking.CHALLENGER
    return run_settings


@pytest.fixture(scope="module")
def promoted(registry):
    """Version 2 judged on its own holdout (then judged again, as a retried task would)."""
    run_settings = challenger(registry, "better", CONFIG)
{%- if cookiecutter|layer_enabled("serving") %}
    # A server that cannot be reached: the promotion must stand and the failure be reported.
    run_settings = run_settings.model_copy(
        update={"serve_url": "http://127.0.0.1:9", "serve_admin_token": SecretStr("token")}
    )
{%- endif %}
    result = promote.run(run_settings, CONFIG, actor="test", trigger="new-data")
    retry = promote.run(run_settings, CONFIG, actor="test", trigger="new-data", reload=False)
    return run_settings, result, retry


@pytest.fixture(scope="module")
def rejected(registry, promoted):
    run_settings = challenger(registry, "worse", WORSE)
    return run_settings, promote.run(run_settings, WORSE, actor="test", trigger="new-data")


def test_a_better_challenger_becomes_champion_and_the_old_one_is_kept(promoted):
    settings, result, _ = promoted

    assert result.decision is not None
    assert result.decision.promote, result.decision.reasons
    assert tracking.describe(settings, tracking.CHAMPION).version == "2"
    assert tracking.alias_version(settings, tracking.PREVIOUS_CHAMPION) == "1"
    assert tracking.alias_version(settings, tracking.CHALLENGER) is None
    assert tracking.version_tags(settings, "1")["gate.replaced_by"] == "2"


def test_the_decision_is_recorded_on_the_version_in_the_report_and_in_mlflow(promoted):
    settings, result, _ = promoted

    tags = tracking.version_tags(settings, "2")
    report = json.loads((settings.reports_dir / "promotion.json").read_text())
    _, metrics, run_tags = tracking.run_data(settings, report["mlflow_run_id"])

    assert tags["gate.decision"] == "promoted"
    assert tags["gate.reason"] == "passed: every check"
    assert tags["gate.reasons"].splitlines() == list(result.decision.reasons)
    assert (tags["gate.actor"], tags["gate.trigger"]) == ("test", "new-data")
    assert report["decision"] == "promoted"
    assert (report["champion_version"], report["challenger_version"]) == ("1", "2")
    assert report["holdout"]["path"] == str(settings.test_table)
    assert report["holdout"]["md5"] == register.file_md5(settings.test_table)
    assert tags["gate.holdout_md5"] == report["holdout"]["md5"]
    assert report["challenger_metrics"]["roc_auc"] > report["champion_metrics"]["roc_auc"]
    assert metrics["promoted"] == 1.0
    assert metrics["challenger.roc_auc"] == pytest.approx(report["challenger_metrics"]["roc_auc"])
    assert run_tags["gate.decision"] == "promoted"


def test_a_retry_after_the_promotion_finds_nothing_to_decide(promoted):
    settings, _, retry = promoted

    assert retry.decision is None
    assert retry.exit_code == promote.EXIT_OK
    assert "no version of" in retry.lines()[0]
    assert tracking.describe(settings, tracking.CHAMPION).version == "2"
{%- if cookiecutter|layer_enabled("serving") %}


def test_a_failed_reload_is_reported_and_the_promotion_stands(promoted):
    settings, result, _ = promoted

    assert result.reload_failed
    assert result.exit_code == promote.EXIT_RELOAD_FAILED
    assert "RELOAD FAILED (cannot reach http://127.0.0.1:9" in result.server
    assert "still serves the old model" in result.server
    assert tracking.describe(settings, tracking.CHAMPION).version == "2"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/admin/reload"])
def test_the_server_url_is_http_only_so_a_reload_never_opens_a_file(url):
    with pytest.raises(ValidationError, match="serve_url"):
        Settings(serve_url=url)
    with pytest.raises(model_server.ReloadError, match="is not an http"):
        model_server.reload(url, "token", tracking.CHAMPION, timeout=1)
{%- endif %}


def test_a_worse_challenger_is_rejected_with_its_reason_and_the_champion_stays(rejected):
    settings, result = rejected

    tags = tracking.version_tags(settings, "3")
    assert result.decision is not None
    assert not result.decision.promote
    assert tracking.describe(settings, tracking.CHAMPION).version == "2"
    assert tracking.alias_version(settings, tracking.CHALLENGER) == "3"
    assert tags["gate.decision"] == "rejected"
    assert tags["gate.reason"].startswith("failed: roc_auc")
    assert "< min_abs_improvement" in tags["gate.reason"]
    assert result.exit_code == promote.EXIT_OK
    assert result.server == ""  # nothing promoted: the server is not disturbed


{%- if cookiecutter|layer_enabled("governance") %}


def test_every_decision_is_appended_to_the_audit_log(promoted, rejected):
    settings, *_ = promoted

    records = [json.loads(line.text) for line in read_lines(settings.audit_log_dir)]

    decisions = [record["payload"] for record in records if record["kind"] == "promotion"]
    summary = [(d["decision"], d["champion_version"], d["challenger_version"]) for d in decisions]
    assert summary[:2] == [("promoted", "1", "2"), ("rejected", "2", "3")]
    assert decisions[0]["actor"] == "test"
    assert decisions[0]["trigger"] == "new-data"
    assert decisions[0]["reasons"] == list(promoted[1].decision.reasons)
    assert decisions[0]["holdout"]["md5"] == register.file_md5(settings.test_table)
{%- endif %}


@pytest.fixture
def cli_env(registry, monkeypatch):
    settings, _ = registry
    monkeypatch.setenv(f"{ENV_PREFIX}MLFLOW_DIR", str(settings.mlflow_dir))
    monkeypatch.setenv(f"{ENV_PREFIX}CONFIG_PATH", str(PROJECT_ROOT / "configs" / "pipeline.yaml"))
    return settings


def test_promote_command_judges_and_explains(cli_env, rejected):
    run_settings, _ = rejected

    result = CliRunner().invoke(
        app, ["promote", "--holdout", str(run_settings.test_table), "--actor", "cli-test"]
    )

    assert result.exit_code == 0, result.output
    assert "REJECTED customer-churn version 3; version 2 stays champion" in result.output
    assert "failed: roc_auc" in result.output


@pytest.mark.parametrize(
    ("holdout", "message"),
    [
        ("missing", "holdout missing not found"),
        ("tiny", "has 50 rows, fewer than continuous_training.min_holdout_rows=500"),
    ],
)
def test_promote_command_refuses_a_bad_holdout_in_one_line(
    cli_env, rejected, tmp_path, monkeypatch, holdout, message
):
    run_settings, _ = rejected
    monkeypatch.chdir(tmp_path)
    write_table(read_customers(run_settings.test_table).head(50), tmp_path / "tiny")

    result = CliRunner().invoke(app, ["promote", "--holdout", holdout])

    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
