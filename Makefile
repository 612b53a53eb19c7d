# The README's commands. `make test` and `make demo` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXPORTER ?= xray
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

# The real pipeline (collector + Jaeger built from their Go modules) joins `make test` wherever Go is.
HAVE_GO := $(shell command -v go 2>/dev/null)

.PHONY: setup tools rie test demo view e2e stack synth bench lint clean

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

# Builds .tools/bin/{aws-lambda-rie,otelcol-lambda,jaeger} once each; cached outside the repo by the
# hash of each one's pins.
tools: setup
	$(PY) -m tracectl.tools

# Only the Lambda Runtime Interface Emulator: every local run executes the functions under it.
rie: setup
	$(PY) -m tracectl.tools aws-lambda-rie

test: setup $(if $(HAVE_GO),tools)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup rie
	$(VENV)/bin/tracectl demo --seed 3

# The last demo's traces in a browser, each as X-Ray and Jaeger show it (Ctrl-C stops it).
view: setup
	$(VENV)/bin/tracectl view

# The demo through the real pipeline: collector running collector/both.yaml, Jaeger, X-Ray on moto.
e2e: setup tools
	$(VENV)/bin/tracectl demo --stack

# Both backends unless EXPORTER is given: then `make e2e` (and `tracectl view --stack`) can use it.
stack: setup tools
	$(VENV)/bin/tracectl stack --exporter $(if $(filter command line environment,$(origin EXPORTER)),$(EXPORTER),both)

synth: setup
	npx cdk synth -c exporter=$(EXPORTER) $(if $(JAEGER_ENDPOINT),-c jaegerEndpoint=$(JAEGER_ENDPOINT))

# Each twin gets its own Lambda-shaped environment (bench/envs.py); instructions are counted with valgrind.
bench: setup
	@command -v valgrind >/dev/null || { echo "make bench needs valgrind: sudo apt-get install -y valgrind"; exit 1; }
	$(PY) -m bench

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf cdk.out .tracectl .pytest_cache .tools
