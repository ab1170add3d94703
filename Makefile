# The template's own commands. `make demo` and `make test` do all the set-up themselves.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
CONSTRAINTS := {{cookiecutter.project_slug}}/requirements/constraints.txt
DEMO_DIR ?= demo
STAGE ?= $(shell $(PYTHON) -c 'import layer_manifest; print(layer_manifest.highest_built_stage())')

.PHONY: help setup demo test test-slow bench lint format clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip>=25.1"
	$(PY) -m pip install --quiet --disable-pip-version-check -c "$(CONSTRAINTS)" --group test
	touch $@

setup: $(INSTALLED) ## Create .venv with the template's test tools

demo: $(INSTALLED) ## Generate a project at the highest built stage into DEMO_DIR and run its main job
	rm -rf "$(DEMO_DIR)"
	$(PY) -m cookiecutter . --no-input -o "$(DEMO_DIR)" maturity_stage=$(STAGE)
	$(MAKE) -C "$(DEMO_DIR)/customer-churn" run
	@echo "Demo project: $(DEMO_DIR)/customer-churn (stage $(STAGE))"
	@echo "Results:      $(abspath $(DEMO_DIR))/customer-churn/reports/metrics.json"
	@echo "Plots:        $(abspath $(DEMO_DIR))/customer-churn/reports/figures/"
	@test ! -f "$(DEMO_DIR)/customer-churn/reports/registered.json" || \
		echo "Registry:     $$(cat $(DEMO_DIR)/customer-churn/reports/registered.json | tr -d '\n ')  (make -C $(DEMO_DIR)/customer-churn mlflow-ui)"

test: $(INSTALLED) ## Template tests: manifest, hooks, bakes, each baked project's own suite
	$(PY) -m pytest -m "not slow"

test-slow: $(INSTALLED) ## Fresh-machine tests: make demo, then the project's make test
	$(PY) -m pytest -m slow

bench: $(INSTALLED) ## Run every benchmark in benchmarks/ and print its table (_*.py are shared helpers)
	@for bench in benchmarks/[!_]*.py; do echo "== $$bench"; $(PY) $$bench || exit 1; done

lint: $(INSTALLED) ## ruff on the template's own Python
	$(PY) -m ruff check layer_manifest.py tests benchmarks
	$(PY) -m ruff format --check layer_manifest.py tests benchmarks

format: $(INSTALLED) ## Fix the template's own Python with ruff
	$(PY) -m ruff check --fix layer_manifest.py tests benchmarks
	$(PY) -m ruff format layer_manifest.py tests benchmarks

clean: ## Remove the venvs, caches and the demo project
	rm -rf $(VENV) .cache "$(DEMO_DIR)" .pytest_cache .ruff_cache
