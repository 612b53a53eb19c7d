# The README's commands. `make test` and `make demo` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXPORTER ?= xray
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup test demo synth bench lint clean

setup: $(VENV)/.installed node_modules/.installed

# Reinstalls only when pyproject.toml changes; safe to run any number of times.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[lambda,cdk,cli,dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/tracectl demo

synth: setup
	npx cdk synth -c exporter=$(EXPORTER) $(if $(JAEGER_ENDPOINT),-c jaegerEndpoint=$(JAEGER_ENDPOINT))

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(PY) -m bench

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf cdk.out .tracectl .pytest_cache
