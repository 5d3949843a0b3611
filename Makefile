# CDR lakehouse — `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
LAKEHOUSE := $(BIN)/lakehouse

##@ Stack
up: install ## Install what is missing, start every service, wait until healthy
	@$(LAKEHOUSE) up

down: ## Stop the stream (if running) and every service (data is kept)
	@if [ -x $(LAKEHOUSE) ]; then $(LAKEHOUSE) down; fi

status: install ## Show each service (pid, ports, health, memory, endpoint) and the stream processes
	@$(LAKEHOUSE) status

logs: install ## Show the end of each service's log (SERVICE=trino for one, LINES=50)
	@$(LAKEHOUSE) logs $(SERVICE) --lines $(or $(LINES),20)

clean: install ## Stop the stack and delete local data (asks; YES=1 to skip the question)
	@$(LAKEHOUSE) clean $(if $(YES),--yes,)

##@ Data
generate: up ## Generate the default CDR set into Iceberg (raw.*); ARGS="--days 7" to change it
	@$(LAKEHOUSE) generate $(ARGS)

pipeline: up ## Raw gate, dbt clean, clean gate, dbt analytics, analytics gate, forecasts, forecast gate, publish (stops at a failed gate)
	@$(LAKEHOUSE) pipeline

stream: up ## Start the streaming job and a live producer in the background (RATE=events/s, default 2000)
	@$(LAKEHOUSE) stream start $(if $(RATE),--rate $(RATE),)

stream-stop: install ## Stop the live producer and the streaming job
	@$(LAKEHOUSE) stream stop

stream-score: up ## Score the real-time alerts against what the live producer injected
	@$(LAKEHOUSE) stream score

maintain: up ## Compact small files, expire snapshots, remove orphan files (raw and stream tables)
	@$(LAKEHOUSE) maintain

dashboards: up ## Import dashboards/bundle/ into Superset (make up does it too; overwrites what it defines)
	@$(LAKEHOUSE) dashboards import

dashboards-export: install ## Write the dashboards as edited in Superset's UI back into dashboards/bundle/ (YAML)
	@$(LAKEHOUSE) dashboards export

export: up ## Write the published analytics tables to Parquet and CSV for Power BI; ARGS="--tables dim_date"
	@$(LAKEHOUSE) export $(ARGS)

ui: up ## The generator's web page (configure, preview, run) at 127.0.0.1:8501 (LAKEHOUSE_UI__PORT)
	@$(LAKEHOUSE) ui

dbt: install ## Run dbt with the lakehouse settings: make dbt ARGS="test --select clean"
	@$(LAKEHOUSE) dbt $(ARGS)

sql: install ## SQL shell on Trino as the analyst (read-only marts); ARGS="--execute 'SELECT 1'", ARGS=--engineer
	@$(LAKEHOUSE) sql $(ARGS)

##@ Development
install: $(VENV)/.synced ## Create the Python environment from uv.lock

$(VENV)/.synced: pyproject.toml uv.lock infra/bootstrap.sh infra/uv-requirements.txt
	@infra/bootstrap.sh

test: install ## Run unit and integration tests (integration starts its own stack), then the S3 ones on versitygw
	@$(BIN)/pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-versitygw

test-versitygw: install ## Run the tests every S3 server must pass (marker object_store) on a stack with versitygw
	@LAKEHOUSE_S3__SERVER=versitygw $(BIN)/pytest $(PYTEST_ARGS) -m "integration and object_store"

test-faults: install ## Run the fault matrix (SIGKILL each service mid-phase) and write RELIABILITY.md
	@$(BIN)/pytest $(PYTEST_ARGS) -m faults

test-unit: install ## Run unit tests only
	@$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

bench: up ## Run the benchmarks (stack must be up; `make up` is run first) and write BENCHMARKS.md
	@$(BIN)/python -m bench

lint: install ## Lint Python (ruff), the import layers (import-linter), the dbt SQL (sqlfluff) and the alert rules (promtool)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports --no-cache
	@$(BIN)/sqlfluff lint dbt_project/models --processes 2 --disable-progress-bar
	@$(BIN)/python infra/monitoring/promtool_check.py

fmt: install ## Format and auto-fix (ruff)
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

lock-kafka: ## Re-resolve the Kafka broker classpath (needs Maven) and print pins for infra/artifacts.toml
	@cd infra/kafka && mvn -q -B -C -Dstyle.color=never dependency:list -DincludeScope=runtime -DoutputAbsoluteArtifactFilename=true -DoutputFile=/dev/stdout \
	  | awk -F: '/:jar:/ {gsub(/^ +/, "", $$1); cmd="sha256sum " $$6; cmd | getline s; close(cmd); split(s, h, " "); \
	    printf "  { coordinate = \"%s:%s:jar:%s\", sha256 = \"%s\" },\n", $$1, $$2, $$4, h[1]}' | sort

lock-superset: install ## Re-resolve Superset's own environment (infra/superset/requirements.in -> requirements.txt)
	@cd infra/superset && UV_CACHE_DIR=$${LAKEHOUSE_CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/cdr-lakehouse}/uv \
	  $$($(CURDIR)/$(BIN)/python -c 'from infra.superset_venv import uv_binary; from core.settings import load_settings; print(uv_binary(load_settings().cache_dir))') \
	  pip compile requirements.in --quiet --generate-hashes --python-version 3.11 --no-header -o requirements.txt

help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^##@/ {printf "\n%s\n", substr($$0, 5)} \
	  /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: up down status logs clean generate pipeline export stream stream-stop stream-score maintain dashboards dashboards-export ui dbt sql install test test-unit test-versitygw test-faults bench lint fmt lock-kafka lock-superset help
