# One command to deploy the local dev stack, one to run every test.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: up test test-fast lint deps bench

up:
	./scripts/up-dev.sh

deps:
	./scripts/install-test-deps.sh

test: deps
	$(PY) -m pytest

test-fast:
	$(PY) -m pytest -m unit -q

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:
	$(PY) -m benchmarks
