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

.PHONY: help setup browser demo demo-story demo-run test test-slow bench lint format clean docs docs-serve

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip>=25.1"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install --quiet --disable-pip-version-check \
		-c "$(CONSTRAINTS)" --group test
	touch $@

setup: $(INSTALLED) ## Create .venv with the template's test tools

# The browser tests (tests/test_browser.py) drive Debian's chromium package; Playwright never
# downloads a browser. Installing it needs root, or sudo.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
browser: ## Install Debian's chromium for the browser tests, when CHROMIUM (/usr/bin/chromium) is missing
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "error: $(CHROMIUM) is missing and there is no apt-get: install Chromium and run make with CHROMIUM=/path/to/chromium" >&2; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "error: $(CHROMIUM) is missing; as root run: apt-get update && apt-get install -y --no-install-recommends chromium" >&2; exit 1; fi; \
	$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; \
	test -x "$(CHROMIUM)" || { echo "error: installed Debian's chromium, but CHROMIUM=$(CHROMIUM) is not it" >&2; exit 1; }

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

test: $(INSTALLED) browser ## Template tests: manifest, hooks, bakes, each baked project's own suite, browser
	$(PY) -m pytest -m "not slow"

test-slow: $(INSTALLED) ## Fresh-machine tests: make demo, then the project's make test
	$(PY) -m pytest -m slow

bench: $(INSTALLED) ## Run every benchmark in benchmarks/ and print its table (_*.py are shared helpers)
	@for bench in benchmarks/[!_]*.py; do echo "== $$bench"; $(PY) $$bench || exit 1; done

DOCS_VENV := .cache/docs-venv
DOCS_INSTALLED := $(DOCS_VENV)/.installed
DOCS_PORT ?= 8001
# Material prints a banner about MkDocs 2.0 on every build unless this is set.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs

$(DOCS_INSTALLED): docs/requirements.txt
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r docs/requirements.txt
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
