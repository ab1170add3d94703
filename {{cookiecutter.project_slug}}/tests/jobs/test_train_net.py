"""Training the PyTorch model on the CPU: quality, determinism, resume, early stopping, DDP."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import roc_auc_score

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.configs import (
    EvaluationConfig,
    ModelConfig,
    SyntheticConfig,
    TabularNetConfig,
)
from {{ cookiecutter.package_name }}.core.features import churn_labels
from {{ cookiecutter.package_name }}.core.schema import INPUT_COLUMNS
from {{ cookiecutter.package_name }}.io.datasets import load_model, read_customers
from {{ cookiecutter.package_name }}.jobs import evaluate, generate, prepare, train, train_net
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

PACKAGE = "{{ cookiecutter.package_name }}"
SOURCE = Path({{ cookiecutter.package_name }}.__file__).parents[1]


def net_config(**overrides) -> ModelConfig:
    settings = {"max_epochs": 20, "batch_size": 256, **overrides}
    return ModelConfig(kind="tabular_net", tabular_net=TabularNetConfig(**settings))


@pytest.fixture
def prepared(settings: Settings, small_config) -> Settings:
    generate.run(SyntheticConfig(rows=8_000, seed=11), settings.raw_table, progress=False)
    prepare.run(
        settings.raw_table,
        settings.quarantine_csv,
        settings.train_table,
        settings.test_table,
        small_config.validation,
        small_config.split,
    )
    return settings


def auc_on_test_split(settings: Settings) -> float:
    customers = read_customers(settings.test_table)
    scores = load_model(settings.model_file).predict_proba(customers[list(INPUT_COLUMNS)])[:, 1]
    return roc_auc_score(churn_labels(customers), scores)


class SimulatedCrashError(Exception):
    """Stands for a crash or Ctrl-C in the middle of training."""


def train_digest(settings: Settings, config: ModelConfig, stop_after: int | None = None):
    """Train; return the weights' digest and the epochs this call ran."""
    epochs = []

    def on_epoch(record: dict) -> None:
        epochs.append(record["epoch"])
        if record["epoch"] == stop_after:
            raise SimulatedCrashError

    train_net.run(config, settings.train_table, settings.model_file, False, on_epoch)
    return load_model(settings.model_file).named_steps["classifier"].weights_digest(), epochs


def test_cpu_training_reaches_the_baseline_on_the_same_split(prepared):
    baseline_config = ModelConfig(kind="logistic_regression")
    train.run(baseline_config, prepared.train_table, prepared.model_file, progress=False)
    baseline = auc_on_test_split(prepared)
    train.run(net_config(), prepared.train_table, prepared.model_file, progress=False)
    net = auc_on_test_split(prepared)

    assert abs(net - baseline) <= 0.02, (net, baseline)
    assert net > 0.75


def test_training_is_deterministic_on_the_cpu(prepared):
    first, _ = train_digest(prepared, net_config(max_epochs=2))
    second, _ = train_digest(prepared, net_config(max_epochs=2))

    assert first == second


def test_an_interrupted_run_resumes_where_it_stopped(prepared):
    config = net_config(max_epochs=4, patience=10)
    uninterrupted, epochs = train_digest(prepared, config)
    assert epochs == [1, 2, 3, 4]
    checkpoint = prepared.models_dir / "checkpoints" / train_net.CHECKPOINT

    with pytest.raises(SimulatedCrashError):
        train_digest(prepared, config, stop_after=2)
    assert checkpoint.exists()
    resumed, epochs = train_digest(prepared, config)

    assert epochs == [3, 4]  # continued, not restarted
    assert resumed == uninterrupted
    assert not checkpoint.exists()  # a finished run leaves no checkpoint behind


def test_a_checkpoint_of_another_config_is_not_resumed(prepared):
    with pytest.raises(SimulatedCrashError):
        train_digest(prepared, net_config(max_epochs=4), stop_after=2)

    _, epochs = train_digest(prepared, net_config(max_epochs=3, learning_rate=0.01))

    assert epochs == [1, 2, 3]


def test_early_stopping_keeps_the_best_epoch(prepared):
    config = net_config(max_epochs=40, patience=2, learning_rate=0.03)
    train.run(config, prepared.train_table, prepared.model_file, progress=False)
    history = load_model(prepared.model_file).named_steps["classifier"].history_

    assert len(history) < 40
    best = min(history, key=lambda record: record["valid_loss"])
    assert best["epoch"] == len(history) - 2  # then two epochs without improvement


def test_the_training_table_is_encoded_the_same_whatever_the_chunk_size(prepared):
    _, whole = train_net.encode_table(prepared.train_table, chunk_rows=100_000)
    _, chunked = train_net.encode_table(prepared.train_table, chunk_rows=97)

    assert (chunked.categories == whole.categories).all()
    assert np.allclose(chunked.numbers, whole.numbers, atol=1e-5)
    assert (chunked.labels == whole.labels).all()
    assert whole.categories.dtype == np.int32  # compact: about 70 bytes a row in all
    assert len(whole.labels) == len(read_customers(prepared.train_table))


def test_device_choice_falls_back_to_the_cpu_and_names_a_missing_device():
    assert train_net.choose_device("cpu") == torch.device("cpu")
    assert train_net.autocast_dtype("auto", torch.device("cpu")) is None
    if torch.cuda.is_available():
        pytest.skip("gpu: a machine with CUDA cannot show the missing-device error")
    with pytest.raises(RuntimeError, match="device=cuda, but this machine has no cuda"):
        train_net.choose_device("cuda")


def test_the_trained_net_is_evaluated_like_the_baseline(prepared):
    train.run(net_config(max_epochs=2), prepared.train_table, prepared.model_file, progress=False)

    result = evaluate.run(
        EvaluationConfig(importance_rows=300, importance_repeats=1),
        prepared.model_file,
        prepared.test_table,
        prepared.metrics_json,
        prepared.figures_dir,
    )

    assert result.metrics["roc_auc"] > 0.7
    assert set(result.metrics["feature_importance"]) == set(INPUT_COLUMNS)


@pytest.mark.slow
@pytest.mark.integration
def test_torchrun_trains_two_cpu_processes_to_identical_weights_and_registers_once(tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "synthetic": {"rows": 3_000},
                "model": {"kind": "tabular_net", "tabular_net": {"max_epochs": 3}},
                "evaluation": {"importance_rows": 200, "importance_repeats": 1},
            }
        )
    )
    env = {
        **os.environ,
        f"{ENV_PREFIX}CONFIG_PATH": str(config),
        **{
            f"{ENV_PREFIX}{folder.upper()}": str(tmp_path / folder)
            for folder in ("data_dir", "models_dir", "reports_dir", "mlflow_dir")
        },
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # The package as this test imported it (installed, or on PYTHONPATH).
        "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc-per-node=2",
        "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0",
        "-m", PACKAGE, "run", "--quiet",{% if cookiecutter|layer_enabled("tracking") %} "--register",{% endif %}
    ]  # fmt: skip

    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d) of 2: weights sha256 ([0-9a-f]{64})", result.stderr))
    assert set(digests) == {"0", "1"}
    assert digests["0"] == digests["1"]
    assert result.stdout.count("ROC-AUC") == 1  # rank 0 alone evaluates and reports
{%- if cookiecutter|layer_enabled("tracking") %}
    assert result.stdout.count("registered ") == 1
    assert "version 1 as @champion" in result.stdout
    from {{ cookiecutter.package_name }}.io import tracking

    settings = Settings(mlflow_dir=tmp_path / "mlflow_dir")
    client = tracking.connect(settings)
    versions = client.search_model_versions(f"name = '{settings.registered_model_name}'")
    assert len(versions) == 1
    assert Path(tmp_path / "models_dir" / "model.joblib").exists()
{%- endif %}


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="gpu: needs a CUDA device")
def test_auto_picks_cuda_with_mixed_precision():
    device = train_net.choose_device("auto")
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    assert device.type == "cuda"
    assert train_net.autocast_dtype("auto", device) == expected
    assert train_net.autocast_dtype("fp32", device) is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="gpu: needs a CUDA device")
@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_cuda_training_in_each_precision_matches_the_cpu(prepared, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("gpu: this GPU has no bf16")
    figures = {}
    for device in ("cpu", "cuda"):
        config = net_config(device=device, precision=precision if device == "cuda" else "fp32")
        started = time.perf_counter()
        trained = train.run(config, prepared.train_table, prepared.model_file, progress=False)
        rows_per_s = trained.rows / (time.perf_counter() - started)
        figures[device] = (auc_on_test_split(prepared), rows_per_s)
    # make test-gpu shows these (-s): AUC per precision, CUDA against the CPU in the same run.
    print(
        f"\n{precision}: ROC-AUC cuda {figures['cuda'][0]:.4f} vs cpu {figures['cpu'][0]:.4f}; "
        f"training {figures['cuda'][1]:,.0f} vs {figures['cpu'][1]:,.0f} rows/s "
        f"({figures['cuda'][1] / figures['cpu'][1]:.1f}x, {torch.cuda.get_device_name()})"
    )

    assert abs(figures["cuda"][0] - figures["cpu"][0]) <= 0.02
