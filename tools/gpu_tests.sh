#!/usr/bin/env bash
# The generated project's GPU tests, in one call on a machine with a CUDA device: bake the widest
# project (stage 4: PyTorch training on), set it up with its own `make setup` (PyPI gives the
# CUDA build of the locked torch on Linux), and run `make test-gpu`: CUDA training in each
# precision against the CPU, with the ROC-AUC and rows/s of each. It fails where there is no
# CUDA device rather than skipping. Usage: tools/gpu_tests.sh [folder for the bake]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
make --no-print-directory setup
.venv/bin/python -m cookiecutter . --no-input -o "$out" maturity_stage=4 git_init=no
make -C "$out/customer-churn" --no-print-directory test-gpu
