# Watershed: `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
MVN := mvn -q -B -s jars/settings.xml
# MinIO, pinned to a commit, built from the Go module proxy (no binary download needed)
MINIO_MODULE := github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
STATSD_EXPORTER_MODULE := github.com/prometheus/statsd_exporter@v0.31.0
export WATERSHED_STATE_DIR ?= $(CURDIR)/.local
export WATERSHED_CACHE_DIR ?= $(CURDIR)/$(CACHE)

.PHONY: help setup java debian demo test test-unit test-stack test-e2e up down status bench lint constraints clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: java debian $(VENV)/.installed $(CACHE)/jars/kafka/.resolved $(CACHE)/jars/jmx/.resolved $(CACHE)/jars/spark/.resolved $(CACHE)/bin/minio $(CACHE)/bin/statsd_exporter ## Install everything (idempotent): .venv, JVM jars, MinIO, the statsd_exporter, Debian's redis-server and postgresql

java:
	@command -v java >/dev/null || { echo "error: Java 17+ is required (Kafka, Spark): install OpenJDK 17, e.g. apt-get install openjdk-17-jre-headless" >&2; exit 2; }
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	  if [ "$${v:-0}" -lt 17 ]; then echo "error: Java 17+ is required, found Java $$v: install OpenJDK 17 or set JAVA_HOME" >&2; exit 2; fi

# Debian packages, installed when missing with one `apt-get update` (as root): Chromium for the
# Airflow UI test (playwright drives it; no browser is downloaded) and redis-server, the store of
# the real-time job's live ad counters (`watershed stack up` runs it under .local/redis), and wrk,
# the HTTP load generator of the collector benchmark (bench/collector/load.py), and PostgreSQL, the
# local Airflow's metadata database (`watershed stack up airflow` runs Debian's binaries under .local/postgres),
# and Prometheus, Alertmanager and the Pushgateway (`watershed stack up prometheus`, tests/monitoring)
debian:
	@missing=(); \
	  command -v chromium >/dev/null || missing+=(chromium); \
	  command -v redis-server >/dev/null || missing+=(redis-server); \
	  command -v wrk >/dev/null || missing+=(wrk); \
	  { ls /usr/lib/postgresql/*/bin/postgres || command -v postgres; } >/dev/null 2>&1 || missing+=(postgresql); \
	  for p in prometheus prometheus-alertmanager prometheus-pushgateway; do command -v $$p >/dev/null || missing+=($$p); done; \
	  if (( $${#missing[@]} )); then \
	    if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	      echo "==> $${missing[*]} from Debian"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$${missing[@]}"; \
	    else \
	      echo "warning: missing $${missing[*]}: run 'sudo apt-get install $${missing[*]}'" \
	        "(tests/airflow_ui needs chromium; the stack's Redis and its tests need redis-server; its Airflow needs postgresql, its monitoring the prometheus packages; make bench needs wrk)" >&2; \
	    fi; \
	  fi

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) is required (set PYTHON=... to another 3.11)" >&2; exit 2; }
	@echo "==> Python environment in $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

$(CACHE)/jars/kafka/.resolved: jars/kafka/pom.xml jars/settings.xml
	@echo "==> Kafka broker jars from Maven Central"
	@rm -rf $(@D) && mkdir -p $(@D)
	$(MVN) -f jars/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(@D)
	@touch $@

$(CACHE)/jars/jmx/.resolved: jars/jmx/pom.xml jars/settings.xml
	@echo "==> Prometheus JMX exporter (the Kafka broker's metrics) from Maven Central"
	@rm -rf $(@D) && mkdir -p $(@D)
	$(MVN) -f jars/jmx/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(@D)
	@touch $@

$(CACHE)/jars/spark/.resolved: jars/spark/pom.xml jars/settings.xml $(VENV)/.installed
	@echo "==> Spark extras (Kafka connector, S3A) from Maven Central"
	@rm -rf $(@D) && mkdir -p $(@D)
	$(MVN) -f jars/spark/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(@D)
	$(BIN)/python -m spark_jobs.session prune-jars $(@D)
	@touch $@

$(CACHE)/bin/statsd_exporter:
	@command -v go >/dev/null || { echo "error: Go is required to build the statsd_exporter (Airflow's metrics)" >&2; exit 2; }
	@echo "==> statsd_exporter (Airflow's StatsD metrics for Prometheus) built from the Go module proxy"
	GOBIN=$(CURDIR)/$(CACHE)/bin GOFLAGS=-buildvcs=false go install $(STATSD_EXPORTER_MODULE)

$(CACHE)/bin/minio:
	@command -v go >/dev/null || { echo "error: Go is required to build the local S3 server (MinIO)" >&2; exit 2; }
	@echo "==> MinIO (S3-compatible server) built from the Go module proxy; first build takes a few minutes"
	GOBIN=$(CURDIR)/$(CACHE)/bin GOFLAGS=-buildvcs=false go install $(MINIO_MODULE)

up: setup ## Start the local stack (Kafka, S3, Redis, Airflow at http://127.0.0.1:8080, user admin)
	$(BIN)/watershed stack up --all

down: ## Stop the local stack
	@test -x $(BIN)/watershed && $(BIN)/watershed stack down || true

status: ## Show the local stack's health
	$(BIN)/watershed stack status --all

demo: setup ## Run the platform's main job on the local default and print what happened
	$(BIN)/watershed stack up
	$(BIN)/watershed demo

# One pytest run per lane, fastest first, each timed; a lane that collects no test fails (pytest's
# exit code 5 is not 0). tests/conftest.py puts every test in exactly one lane.
define lane
	@echo "==> lane $(1): pytest -m $(1)"
	@start=$$(date +%s); $(BIN)/pytest -m $(1) $(PYTEST_ARGS); \
	  echo "==> lane $(1) passed in $$(( $$(date +%s) - start )) s"
endef

test: setup ## Run the whole suite: the unit, stack and e2e lanes in that order
	@start=$$(date +%s); \
	  $(MAKE) --no-print-directory test-unit test-stack test-e2e; \
	  echo "==> all lanes passed in $$(( $$(date +%s) - start )) s"

test-unit: setup ## The fast lane: no Kafka, MinIO or Redis (pure Python, DataFrames, SQL, dbt, DAG integrity)
	$(call lane,unit)

test-stack: setup ## Tests against the real local stack (started once on separate ports, stopped after)
	$(call lane,stack)

test-e2e: setup ## The slowest last: the Airflow UI, the demo day, the installed package
	$(call lane,e2e)

BENCHES := bench.generate bench.collector.kafka_clients bench.collector.load bench.collector.scrape_overhead bench.sessionize bench.warehouse bench.streaming bench.spark_cluster

bench: setup ## Run the benchmarks one at a time (they need the machine to themselves); figures go to BENCHMARKS.md
	@for b in $(BENCHES); do echo "==> python -m $$b"; $(BIN)/python -m $$b; done

lint: setup ## ruff, ruff format, mypy and the secret scan (against .secrets.baseline)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline

constraints: ## Re-pin constraints.txt from the current .venv
	@{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^watershed'; } > constraints.new && mv constraints.new constraints.txt

clean: down ## Remove local state (.local); keeps .venv and .cache
	rm -rf .local
