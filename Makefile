# Two commands do everything:  `make up`  (pulumi up on a local state backend)  and  `make test`.
# Others: make doctor | check | preview | destroy | outputs | kubeconfig | ssh NODE=.. | console NODE=..
# (`make up ARGS=--yes` skips the confirmation prompt.)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
ARGS ?=
# The oldest Python the code runs on (tests/test_boundaries.py checks it with vermin).
MIN_PYTHON := 3.10
# State stays on this machine unless you point PULUMI_BACKEND_URL elsewhere; no cloud account.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_SKIP_UPDATE_CHECK ?= true
# Second guard next to the pulumi-kubernetes pin (requirements.txt): client-go >= v0.35 turns
# WatchListClient on, and its informers then wait forever on a Kubernetes 1.13 API server.
# client-go reads this variable (kubernetes/client-go@v0.35.1:features/envvar.go).
export KUBE_FEATURE_WatchListClient := false

.PHONY: up preview destroy outputs test lint stack python-check doctor check kubeconfig ssh console

python-check:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(MIN_PYTHON)".split("."))))' \
	  2>/dev/null || { \
	  echo "error: kubeadm-libvirt needs Python $(MIN_PYTHON) or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)."; \
	  echo "       Run with PYTHON=/path/to/python3.10 (or newer)."; exit 1; }

$(VENV)/.deps: requirements.txt | python-check
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-deps: $(VENV)/.deps requirements-test.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

stack: $(VENV)/.deps
	@command -v pulumi >/dev/null || { \
	  echo "error: the Pulumi CLI is not installed."; \
	  echo "       Install it with: curl -fsSL https://get.pulumi.com | sh -s -- --version 3.260.0   (then open a new shell)"; \
	  exit 1; }
	@if [ -z "$${PULUMI_CONFIG_PASSPHRASE+x}$${PULUMI_CONFIG_PASSPHRASE_FILE+x}" ] && [ ! -t 0 ]; then \
	  echo "error: set PULUMI_CONFIG_PASSPHRASE (it encrypts the secrets in the local state)"; exit 1; fi
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK)

# Preflight: this machine, the hypervisor and every mirror, in seconds (tools/doctor.py).
doctor: $(VENV)/.deps
	$(VENV)/bin/python -m tools.doctor --stack $(STACK)

up: doctor stack
	pulumi up --stack $(STACK) $(ARGS)

preview: stack
	pulumi preview --stack $(STACK) $(ARGS)

destroy: stack
	pulumi destroy --stack $(STACK) $(ARGS)

outputs: stack
	pulumi stack output --stack $(STACK)

# --- everyday use -------------------------------------------------------------------------------
NODE ?=

# Run the smoke check again (and only it) against the running cluster.
check: stack
	@urns=$$(pulumi stack --stack $(STACK) --show-urns | grep -oE 'urn:pulumi:[^ ]*::smoke-[^ ]+' | sort -u); \
	  if [ -z "$$urns" ]; then echo "error: stack $(STACK) has no smoke check yet: run make up"; exit 1; fi; \
	  pulumi up --stack $(STACK) --yes --skip-preview $$(printf -- '--target-replace %s ' $$urns)

# The admin kubeconfig, 0600 from the start (umask), for a kubectl of 1.12 to 1.14.
kubeconfig: stack
	umask 077 && pulumi stack output kubeconfig --show-secrets --stack $(STACK) > kubeconfig
	@echo "wrote ./kubeconfig (0600): kubectl --kubeconfig kubeconfig get nodes"

ssh: $(VENV)/.deps
	@test -n "$(NODE)" || { echo "usage: make ssh NODE=k8s-master"; exit 1; }
	$(VENV)/bin/python -m tools.ssh --stack $(STACK) $(NODE) $(ARGS)

# The VM's serial console (libvirt VMs; leave it with Ctrl-]). There is no password login.
console:
	@test -n "$(NODE)" || { echo "usage: make console NODE=k8s-master"; exit 1; }
	virsh --connect "$$(pulumi config get libvirtUri --stack $(STACK) 2>/dev/null || echo qemu:///system)" console $(NODE)

lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/pytest
