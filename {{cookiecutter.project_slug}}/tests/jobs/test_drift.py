"""The drift command with the real Evidently, on small synthetic windows (2,000 rows each)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import app
from {{ cookiecutter.package_name }}.configs import ModelConfig
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.core.synthetic import generate_customers
from {{ cookiecutter.package_name }}.io.datasets import {% if cookiecutter|layer_enabled("serving") %}load_model, {% endif %}write_table
{%- if cookiecutter|layer_enabled("serving") %}
from {{ cookiecutter.package_name }}.io.prediction_log import PredictionLog
{%- endif %}
from {{ cookiecutter.package_name }}.jobs import train

pytestmark = pytest.mark.integration

runner = CliRunner()
PREFIX = "{{ cookiecutter.package_name|upper }}_"
ROWS = 2_000
SUMMARY_FIELDS = {
    "dataset_drift",
    "drift_share",
    "drift_share_threshold",
    "number_of_columns",
    "number_of_drifted_columns",
    "drifted_columns",
    "columns",
    "reference_rows",
    "current_rows",
    "sampled_reference_rows",
    "sampled_current_rows",
    "prediction_drift",
    "target_drift",
}
#: The generator's drift moves tenure, prices and contracts: about 5 of 19 columns at 0.6, so
#: these tests judge dataset drift at a share of 0.25 (the shipped config says 0.5).
CONFIG = """
monitoring:
  sample_rows: 1500
  drift_share: 0.25
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder: the jobs' locations under it, a config, a reference table."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in ("DATA_DIR", "MODELS_DIR", "REPORTS_DIR", "MLFLOW_DIR"):
        monkeypatch.setenv(PREFIX + name, str(tmp_path / name.lower()))
    (tmp_path / "drift.yaml").write_text(CONFIG)
    write_table(generate_customers(ROWS, np.random.default_rng(1)), tmp_path / "reference.csv")
    return tmp_path


def window(folder: Path, name: str, seed: int, drift: float = 0.0, rows: int = ROWS, **kw) -> Path:
    customers = generate_customers(rows, np.random.default_rng(seed), drift=drift)
    path = folder / name
    write_table(customers.drop(columns=kw.get("drop", [])), path)
    return path


def drift(project: Path, current: Path, *extra: str):
    args = ["drift", "--config", str(project / "drift.yaml"), "--current", str(current)]
    args += ["--reference", str(project / "reference.csv"), "--out", str(project / "out")]
{%- if cookiecutter|layer_enabled("tracking") %}
    if "--log" not in extra:
        args.append("--no-log")
{%- endif %}
    return runner.invoke(app, [*args, *extra])


def summary(project: Path) -> dict:
    return json.loads((project / "out" / "summary.json").read_text())


def test_same_distribution_is_no_drift(project):
    result = drift(project, window(project, "current.csv", seed=2))

    assert result.exit_code == 0, result.output
    assert "no dataset drift" in result.output
    found = summary(project)
    assert found["dataset_drift"] is False
    assert found["drifted_columns"] == []
    assert (found["reference_rows"], found["sampled_reference_rows"]) == (ROWS, 1_500)
    assert found["target_drift"]["drifted"] is False  # both windows hold the label
    assert found["prediction_drift"] is None  # no model file


def test_drifted_window_exits_3_naming_the_columns(project):
    result = drift(project, window(project, "current.csv", seed=2, drift=0.6))

    assert result.exit_code == 3, result.output
    found = summary(project)
    assert set(found) == SUMMARY_FIELDS
    assert found["dataset_drift"] is True
    assert {"tenure", "MonthlyCharges", "TotalCharges"} <= set(found["drifted_columns"])
    assert "gender" not in found["drifted_columns"]
    assert found["number_of_columns"] == len(INPUT_COLUMNS) == len(found["columns"])
    assert found["columns"]["tenure"]["method"] == "wasserstein"
    assert found["columns"]["Contract"]["method"] == "jensenshannon"
    assert "DRIFT" in result.output
    assert "drifted: " in result.output
    html = (project / "out" / "report.html").read_text()
    assert "Dataset Drift" in html  # Evidently's own report
    assert "tenure" in html


{%- if cookiecutter|layer_enabled("scale") %}


def test_a_parquet_window_is_the_same_sample_as_its_csv(project):
    """The Parquet reader picks by position the rows the CSV reader keeps as it streams."""
    (project / "drift.yaml").write_text(CONFIG + "  chunk_rows: 300\n")  # several batches
    customers = generate_customers(ROWS, np.random.default_rng(2), drift=0.6)
    found = {}
    for suffix in ("csv", "parquet"):
        write_table(customers, project / f"current.{suffix}")
        assert drift(project, project / f"current.{suffix}").exit_code == 3
        found[suffix] = summary(project)

    csv, parquet = found["csv"], found["parquet"]
    assert parquet["drifted_columns"] == csv["drifted_columns"]
    assert parquet["sampled_current_rows"] == csv["sampled_current_rows"] == 1_500
    for column, result in csv["columns"].items():
        assert parquet["columns"][column]["score"] == pytest.approx(result["score"], abs=1e-12)
    assert parquet["target_drift"]["score"] == pytest.approx(csv["target_drift"]["score"])
{%- endif %}


def test_missing_column_is_named(project):
    result = drift(project, window(project, "current.csv", seed=2, drop=["tenure"]))

    assert result.exit_code == 2
    assert "current window has no column 'tenure'" in result.output
    assert "Traceback" not in result.output


def test_too_few_rows_says_how_many(project):
    result = drift(project, window(project, "current.csv", seed=2, rows=120))

    assert result.exit_code == 2
    assert "has 120 rows, fewer than the minimum of 200" in result.output


@pytest.mark.parametrize(
    ("bad_window", "bad", "says"),
    [
        ("current", {"drop": ["tenure", "Contract"]}, "no column 'tenure', 'Contract'"),
        ("current", {"rows": 150}, "150 rows, fewer than the minimum of 200"),
        ("reference", {"rows": 150}, "150 rows, fewer than the minimum of 200"),
    ],
)
def test_bad_input_is_one_line_with_no_report_and_no_run(project, bad_window, bad, says):
    current = window(project, "current.csv", seed=2, **(bad if bad_window == "current" else {}))
    if bad_window == "reference":
        window(project, "reference.csv", seed=1, **bad)

    result = drift(project, current{% if cookiecutter|layer_enabled("tracking") %}, "--log"{% endif %})

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {bad_window} window has {says}")
    assert not (project / "out").exists()  # no report, no summary
{%- if cookiecutter|layer_enabled("tracking") %}
    assert not (project / "mlflow_dir").exists()  # no MLflow run: the store was never opened
{%- endif %}


def test_quiet_prints_nothing_and_a_missing_file_is_exit_2(project):
    assert drift(project, window(project, "current.csv", seed=2), "--quiet").output == ""
    assert drift(project, project / "nowhere.csv").exit_code == 2


def test_the_summary_agrees_with_evidentlys_own_count(project):
    from {{ cookiecutter.package_name }}.configs import MonitoringConfig
    from {{ cookiecutter.package_name }}.jobs import drift as drift_job

    current = window(project, "current.csv", seed=2, drift=1.0)
    result = drift_job.run(
        MonitoringConfig(sample_rows=0), project / "reference.csv", current, project / "out"
    )

    assert result.summary["number_of_drifted_columns"] == result.evidently_drifted_count > 0
    assert result.summary["sampled_current_rows"] == ROWS  # sample_rows 0: every row


def trained_model(project: Path) -> Path:
    """A model trained on the reference rows (blank TotalCharges as the prepare job reads them)."""
    customers = pd.read_csv(project / "reference.csv", dtype=str, keep_default_na=False)
    customers["TotalCharges"] = pd.to_numeric(customers["TotalCharges"], errors="coerce")
    write_table(customers, project / "train.csv")
    model_file = project / "models_dir" / "model.joblib"
    train.run(ModelConfig(), project / "train.csv", model_file, progress=False)
    return model_file


def test_with_a_model_the_scores_are_compared(project):
    trained_model(project)

    result = drift(project, window(project, "current.csv", seed=2, drift=0.6))

    prediction = summary(project)["prediction_drift"]
    assert result.exit_code == 3, result.output
    assert prediction["method"] == "wasserstein"
    assert prediction["drifted"] is True  # drift raises the churn scores
{%- if cookiecutter|layer_enabled("serving") %}


def test_a_prediction_log_folder_is_a_window(project):
    model = load_model(trained_model(project))
    customers = generate_customers(600, np.random.default_rng(5))
    customers["TotalCharges"] = pd.to_numeric(customers["TotalCharges"], errors="coerce")
    features = customers[list(INPUT_COLUMNS)]
    scores = model.predict_proba(features)[:, 1].tolist()
    records = [
        {"request_id": str(i), "time": "t", "model_version": "1", "features": row, "score": s}
        for i, (row, s) in enumerate(zip(features.to_dict("records"), scores, strict=True))
    ]
    with PredictionLog(project / "logs") as log:
        log.append(records)

    result = drift(project, project / "logs")

    assert result.exit_code == 0, result.output
    found = summary(project)
    assert found["current_rows"] == 600
    assert found["target_drift"] is None  # the log holds no labels
    assert found["prediction_drift"]["drifted"] is False
{%- endif %}
{%- if cookiecutter|layer_enabled("tracking") %}


def test_the_check_is_logged_to_mlflow(project):
    from {{ cookiecutter.package_name }}.io import tracking
    from {{ cookiecutter.package_name }}.settings import Settings

    result = drift(project, window(project, "current.csv", seed=2, drift=0.6), "--log")

    assert result.exit_code == 3, result.output
    run_id = result.output.split("logged to MLflow run ")[1].split()[0]
    client = tracking.connect(Settings())
    artifacts = {item.path for item in client.list_artifacts(run_id, "drift")}
    assert artifacts == {"drift/report.html", "drift/summary.json"}
    _, metrics, _ = tracking.run_data(Settings(), run_id)
    assert metrics["dataset_drift"] == 1.0
    assert metrics["drift_share"] == summary(project)["drift_share"]
{%- endif %}
