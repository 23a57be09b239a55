# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-python demo test test-compat lint unit docs bench bench-scrape bench-curve clean

setup-python:
	@scripts/setup-python.sh $(VENV)

setup: setup-python
	@scripts/setup-system.sh
	@scripts/setup-kafka.sh
	@scripts/setup-kube.sh
	@scripts/setup-kustomize.sh
	@scripts/setup-helm.sh >/dev/null

demo: setup-python
	@scripts/setup-kafka.sh
	@scripts/setup-system.sh prometheus || echo "could not install Prometheus: the demo runs without it"
	$(PY) -m harness.demo

lint: setup-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: setup-python
	$(PY) -m pytest tests/unit -q

test: setup lint
	$(PY) -m pytest -q

# Long: the oracle tests against every Kafka release in scripts/test-compat.sh (not in `make test`).
test-compat: setup-python
	@scripts/test-compat.sh

docs: setup-python
	$(PY) -m bundle

bench: setup-python
	@scripts/setup-kafka.sh
	$(PY) -m bench.run

# /metrics latency at 1 and 50 concurrent scrapers (10k partitions; several minutes).
bench-scrape: setup-python
	@scripts/setup-kafka.sh
	$(PY) -m bench.scrape

# The scaling curve up to 100k partitions and 5,000 groups, peers at every point (an hour or more).
bench-curve: setup-python
	@scripts/setup-kafka.sh
	$(PY) -m bench.curve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
