# The Makefile is the user interface: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# Deploy lint tools live in their own venv: checkov pins libraries the app also uses.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
TF_DIR := deploy/terraform
# Offline machines keep the AWS provider in a local folder; elsewhere init downloads it.
TF_PLUGIN_DIR ?= $(wildcard /opt/tf-plugins)
TF_INIT_FLAGS := -backend=false -input=false $(if $(TF_PLUGIN_DIR),-plugin-dir=$(TF_PLUGIN_DIR))
ADDR ?= 127.0.0.1:8000
PROD_ENV := DEBUG=0 EMBEDDED=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=classifier.example.com DATABASE_URL=postgres://u@127.0.0.1:5432/x \
	BROKER_URL=sqs:// S3_BUCKET=classifier-media CACHE_BACKEND=database

.DEFAULT_GOAL := help
.PHONY: help run test lint lint-deploy format bench install system clean worker cluster lock loadtest

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -U pip setuptools wheel
	$(PIP) install -q -e ".[worker,dev]"
	@touch $(STAMP)

$(TOOLS_STAMP): deploy/requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q -U pip
	$(TOOLS)/bin/pip install -q -r deploy/requirements-tools.txt
	@touch $(TOOLS_STAMP)

install: $(STAMP) ## Create .venv and install the app with the worker and dev extras

system: ## Install missing system packages (Chromium; PostgreSQL if no server runs)
	@bash scripts/ensure-system.sh

run: $(STAMP) ## Start the app at http://127.0.0.1:8000 (SQLite, local files, in-process queue)
	$(PY) manage.py release
	$(PY) manage.py ensure_demo_user
	@echo "Open http://$(ADDR)/ and log in as demo / demo-password"
	$(PY) manage.py serve $(ADDR)

worker: $(STAMP) ## Run queue workers (needs BROKER_URL): jobs and single-image predictions
	$(PY) manage.py rundramatiq --processes 1 --threads 1

WORKERS ?= 2
cluster: $(STAMP) ## Production topology on this machine (PostgreSQL, moto S3+SQS, gunicorn, WORKERS=N bulk workers, a predict worker, the sweeper); Ctrl-C stops all. AUTOSCALE=1 scales the bulk workers
	$(PY) scripts/cluster.py --workers $(WORKERS) --demo $(if $(filter 1,$(AUTOSCALE)),--autoscale)

SCENARIO ?= sustained
DURATION ?= 90
$(VENV)/.load-installed: pyproject.toml | $(STAMP)
	$(PIP) install -q -e ".[worker,dev,load]"
	@touch $@

loadtest: $(VENV)/.load-installed ## Locust load test on the cluster topology: SCENARIO=sustained|explosion|autoscale|throughput|all (reports under docs/loadtest/)
	$(PY) scripts/loadtest.py $(SCENARIO) --duration $(DURATION)

lint: $(STAMP) ## ruff, mypy, import contracts (torch stays in the worker), migrations, deploy check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy classifier_site images categories jobs inference
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PROD_ENV) $(PY) manage.py check --deploy --fail-level WARNING
	@$(MAKE) --no-print-directory lint-deploy

lint-deploy: $(TOOLS_STAMP) ## terraform fmt/validate, checkov, cfn-lint, hadolint, shell scripts
	@command -v terraform >/dev/null || { echo "terraform is required for lint-deploy (see docs/deploy.md)"; exit 1; }
	terraform fmt -check -recursive $(TF_DIR)
	cd $(TF_DIR) && TF_CLI_CONFIG_FILE=$${TF_CLI_CONFIG_FILE:-/dev/null} terraform init $(TF_INIT_FLAGS) >/dev/null \
		&& TF_CLI_CONFIG_FILE=$${TF_CLI_CONFIG_FILE:-/dev/null} terraform validate -no-color
	$(TOOLS)/bin/checkov --quiet --compact --skip-download --framework terraform -d $(TF_DIR) --skip-path '\.terraform'
	find copilot -path "*/addons/*.yml" ! -name addons.parameters.yml | sort | xargs $(TOOLS)/bin/cfn-lint
	$(TOOLS)/bin/hadolint deploy/Dockerfile
	bash -n deploy/build-push.sh deploy/local-cluster.sh
	@if command -v shellcheck >/dev/null; then shellcheck deploy/*.sh; else echo "shellcheck not installed: skipped"; fi

lock: $(TOOLS_STAMP) ## Regenerate the image lock files (deploy/requirements-*.txt) from pyproject.toml
	$(TOOLS)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o deploy/requirements-web.txt pyproject.toml
	$(TOOLS)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --extra worker -o deploy/requirements-worker.txt pyproject.toml

format: $(STAMP) ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: system $(STAMP) lint ## Install everything needed, lint, run the whole suite
	$(VENV)/bin/pytest -q

bench: $(STAMP) ## Run the benchmarks under bench/ (prints figures)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) $(TOOLS) data staticfiles
