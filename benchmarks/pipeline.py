"""Prepare + train + evaluate at 100k and 1M rows: the scikit-learn baseline and the PyTorch model.

    make bench     (all benchmarks; this one: .venv/bin/python benchmarks/pipeline.py)

Bakes a project with every built layer (so Parquet tables), generates each size once,
then runs prepare -> train -> evaluate for each model kind in a fresh process and reports its
wall time and peak RSS. The PyTorch model trains a fixed 3 epochs, so both sizes do the same
work per row. Targets on the 2-core reference machine: time(1M) / time(100k) <= 12 (linear
growth) and peak RSS <= 3 GB at 1M rows.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import QUIET_ENV, WIDEST, bake_ok, locked_python  # the template tests' helpers

SIZES = (100_000, 1_000_000)
KINDS = ("logistic_regression", "tabular_net")
PACKAGE = "customer_churn"
#: Runs in the measured process: the three jobs as the CLI runs them, then its own peak RSS.
STEPS = f"""
import json, resource, time
from {PACKAGE}.configs import load_config
from {PACKAGE}.jobs import evaluate, prepare, train
from {PACKAGE}.settings import Settings
settings = Settings()
config = load_config(settings.config_path)
prepare.run(settings.raw_table, settings.quarantine_csv, settings.train_table,
            settings.test_table, config.validation, config.split)
train.run(config.model, settings.train_table, settings.model_file, progress=False)
result = evaluate.run(config.evaluation, settings.model_file, settings.test_table,
                      settings.metrics_json, settings.figures_dir)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"peak_rss_mb": peak, "roc_auc": result.metrics["roc_auc"]}}))
"""


def run(python: Path, project: Path, env: dict, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), *args], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        # Every built layer, training and scale included: the venv the template tests use.
        project = bake_ok(Path(scratch) / "out", git_init="no", **WIDEST)
        python = locked_python(project)
        env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(project / "src")}
        rows = []
        for size in SIZES:
            data = Path(scratch) / f"data-{size}"
            env_size = {**env, "CUSTOMER_CHURN_DATA_DIR": str(data)}
            seconds, _ = run(python, project, env_size, "-m", PACKAGE, "generate", "--quiet",
                             "--rows", str(size))  # fmt: skip
            print(f"generate {size:>9,} rows: {seconds:6.1f} s", flush=True)
            for kind in KINDS:
                rows.append((size, kind, *measure(python, project, env_size, kind, Path(scratch))))
                print(f"  {kind:<20} {rows[-1][2]:6.1f} s", flush=True)
        report(rows)


def measure(python: Path, project: Path, env: dict, kind: str, scratch: Path):
    config = scratch / f"{kind}.yaml"
    model = {"kind": kind, "tabular_net": {"max_epochs": 3, "patience": 3}}
    config.write_text(json.dumps({"model": model}))  # JSON is YAML
    folder = scratch / f"{kind}-{env['CUSTOMER_CHURN_DATA_DIR'][-7:]}"
    env = {
        **env,
        "CUSTOMER_CHURN_CONFIG_PATH": str(config),
        "CUSTOMER_CHURN_MODELS_DIR": str(folder / "models"),
        "CUSTOMER_CHURN_REPORTS_DIR": str(folder / "reports"),
    }
    seconds, output = run(python, project, env, "-c", STEPS)
    figures = json.loads(output.strip().splitlines()[-1])
    return seconds, figures["peak_rss_mb"], figures["roc_auc"]


def report(rows: list) -> None:
    header = f"{'rows':>9}  {'model':<20} {'prepare+train+evaluate s':>25} {'peak RSS MB':>12}"
    print(f"\n{header} {'ROC-AUC':>8}")
    for size, kind, seconds, peak, auc in rows:
        print(f"{size:>9,}  {kind:<20} {seconds:>25.1f} {peak:>12,.0f} {auc:>8.4f}")
    by = {(size, kind): seconds for size, kind, seconds, _, _ in rows}
    for kind in KINDS:
        ratio = by[(SIZES[1], kind)] / by[(SIZES[0], kind)]
        print(f"time(1M) / time(100k), {kind}: {ratio:.1f}  (target <= 12)")
    peak = max(row[3] for row in rows if row[0] == SIZES[1])
    print(f"largest peak RSS at 1M rows: {peak / 1024:.2f} GB  (target <= 3 GB)")


if __name__ == "__main__":
    main()
