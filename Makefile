# podplay: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PODPLAY := $(VENV)/bin/podplay
STAMP := $(VENV)/.installed
DEMO ?= examples/shop/app.py
PYTEST_ARGS ?=

.PHONY: setup host venv node-image demo test test-hosts unit integration lint sanity format bench clean

## setup: everything a fresh machine needs (packages, Docker engine, .venv, node image)
setup: host venv node-image

host:
	@dsl/tools/setup-host.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "setup: installing podplay and its dependencies into $(VENV)" >&2
	@$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	@$(PY) -m pip install -q -e '.[dev]' > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log >&2; exit 1; }
	@touch $(STAMP)

node-image: host venv
	@$(PODPLAY) image build-node --quiet

## demo: a local cluster running the example app, and where to reach it
demo: setup
	@$(PODPLAY) up $(DEMO) -y

## test: lint, the collection's sanity tests, unit tests (no Docker), then integration tests
## on one shared local cluster
test: setup lint sanity
	@$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)
	@$(PY) -m pytest tests/integration tests/testinfra -q $(PYTEST_ARGS)

## test-hosts: podplay up on plain Debian hosts it did not make (real SSH, sudo, apt, systemd)
test-hosts: setup
	@$(PY) -m pytest tests/hosts -q $(PYTEST_ARGS)

unit: venv
	@$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

integration: setup
	@$(PY) -m pytest tests/integration tests/testinfra -q $(PYTEST_ARGS)

lint: venv
	@$(VENV)/bin/ruff check dsl tests bench ansible_collection setup.py
	@$(VENV)/bin/ruff format --check dsl tests bench ansible_collection setup.py
	@$(VENV)/bin/lint-imports --no-cache >/dev/null || $(VENV)/bin/lint-imports --no-cache
	@PATH=$(CURDIR)/$(VENV)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/ansible_collection \
		$(VENV)/bin/ansible-lint -q --nocolor playbooks ansible_collection/ansible_collections/podplay/cluster

## sanity: ansible-test sanity of the podplay.cluster collection on every supported Python found
## (about 1.5 min; the first run also fills ansible-test's cached venvs from the package index)
sanity: venv
	@dsl/tools/collection-sanity.sh

format: venv
	@$(VENV)/bin/ruff check --fix dsl tests bench ansible_collection setup.py
	@$(VENV)/bin/ruff format dsl tests bench ansible_collection setup.py

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build .pytest_cache
