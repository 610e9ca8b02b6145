# iplus: `make run` starts the platform, `make test` runs the whole suite. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(VENV)/uv/bin/uv
export PATH := $(CURDIR)/$(BIN):$(PATH)

VENDOR := src/iplus/portal/static/vendor

.PHONY: run test lint typecheck arch bench services test-deps clean help assets

help:
	@echo "make run   - set up and start iplus with embedded defaults (portal on http://127.0.0.1:8000)"
	@echo "make test  - set up and run the whole suite (lint, types, architecture, pytest)"
	@echo "make lint  - ruff, mypy and the import contract"
	@echo "make bench - benchmarks against raw baselines"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(PYTHON) -m venv $(VENV)/uv
	$(VENV)/uv/bin/pip install --quiet uv==0.13.8

$(VENV)/.runtime: requirements.lock pyproject.toml | $(UV)
	$(UV) pip sync --quiet --python $(BIN)/python requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.dev
	touch $@

$(VENV)/.dev: requirements-dev.lock pyproject.toml | $(UV)
	$(UV) pip sync --quiet --python $(BIN)/python requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.runtime
	touch $@

# front-end libraries come from the npm registry at set-up and are served by the portal itself
$(VENDOR)/uPlot.iife.min.js: portal-assets/package.json portal-assets/package-lock.json
	cd portal-assets && npm ci --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp portal-assets/node_modules/uplot/dist/uPlot.iife.min.js portal-assets/node_modules/uplot/dist/uPlot.min.css $(VENDOR)/

assets: $(VENDOR)/uPlot.iife.min.js

run: $(VENV)/.runtime assets
	$(BIN)/iplus up --demo

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test-deps:
	bash scripts/test-deps.sh

services:
	bash scripts/services.sh

test: $(VENV)/.dev test-deps assets services lint
	$(BIN)/pytest -n 2 --dist loadfile

bench: $(VENV)/.dev services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache $(VENDOR) portal-assets/node_modules
