# dermflow: one place for the commands people run. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.dermflow-installed
export AIRFLOW_HOME ?= $(CURDIR)/var/airflow
export KERAS_HOME ?= $(CURDIR)/var/keras
export TF_CPP_MIN_LOG_LEVEL ?= 2
PYTEST := $(VENV)/bin/pytest

ifeq ($(origin SERVE_ARGS), undefined)
SERVE_ARGS := --model var/registry $(if $(wildcard var/scores),--results var/scores)
endif

.PHONY: help install demo serve test test-unit test-e2e lint-imports docs-tables bench cluster-up cluster-down clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(STAMP) ## Create .venv, install the pinned stack and the ImageNet weights (idempotent; ~3 min the first time).
	@# Outside the stamp, so a fresh $$KERAS_HOME gets the weights too; a no-op when they are installed.
	$(VENV)/bin/dermflow weights install

$(STAMP): requirements/lock.txt requirements/nodeps.txt setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "pip==25.3"
	@# Step 1: the whole stack at exact pins, with the normal resolver.
	$(PIP) install -q -r requirements/lock.txt
	@# Step 2: the four TFX packages whose declared pins do not exist on the registry.
	$(PIP) install -q --no-deps -r requirements/nodeps.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install ## Run the whole job end to end on a generated synthetic archive.
	$(VENV)/bin/dermflow demo

serve: install ## Web page + JSON API on http://127.0.0.1:8765/ (SERVE_ARGS="--model REG --results DIR --source-root DIR").
	$(VENV)/bin/dermflow serve $(SERVE_ARGS)

# The Airflow e2e tests (the cluster's, and `airflow dags test`'s) spend most of their time waiting on a
# scheduler: they run beside the rest, and their output is printed after it (also in var/test-airflow-e2e.log).
AIRFLOW_E2E := tests/e2e/cluster tests/e2e/dags

test: install lint-imports ## Check the import layers, then run every test (the Airflow e2e tests beside the rest).
	@mkdir -p var
	@($(PYTEST) --durations=15 -p no:cacheprovider $(AIRFLOW_E2E) > var/test-airflow-e2e.log 2>&1; \
	  echo $$? > var/test-airflow-e2e.rc) & \
	$(PYTEST) --durations=15 $(addprefix --ignore=,$(AIRFLOW_E2E)) tests; rest=$$?; \
	wait; echo "===== the Airflow e2e tests, run beside the others ($(AIRFLOW_E2E)) ====="; \
	cat var/test-airflow-e2e.log; airflow=$$(cat var/test-airflow-e2e.rc); \
	echo "make test: the others exit $$rest, the Airflow e2e tests exit $$airflow"; \
	[ "$$rest" = 0 ] && [ "$$airflow" = 0 ]

lint-imports: install ## Check the layer contracts in .importlinter (a cycle or an upward import fails).
	PYTHON=$(PY) .ci/lint-imports

docs-tables: install ## Regenerate docs/' reference tables (Parquet columns, reject reasons, config keys) from the code.
	$(PY) .ci/docs_tables.py --write

test-unit: install ## Fast unit tests only.
	$(PYTEST) -m "not e2e" tests

test-e2e: install ## End-to-end tests only (TFX, Beam, Airflow for real).
	$(PYTEST) -m e2e tests

bench: install ## Run the benchmarks (see docs/benchmarks.md).
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

cluster-up: install ## Start the local cluster: Postgres, Redis, MariaDB (ML Metadata), Airflow on Celery (docs/deployment.md).
	$(PY) -m dermflow.cluster up $(if $(CONFIG),--config $(CONFIG))

cluster-down: ## Stop exactly what cluster-up started; fails if a process or port is left.
	$(PY) -m dermflow.cluster down

clean: ## Remove everything the demo and tests wrote (keeps .venv).
	rm -rf var
