# Two commands do everything:  `make up`  (pulumi up on a local state backend)  and  `make test`.
# Others: make doctor | check | preview | destroy | outputs | kubeconfig | ssh NODE=.. | console NODE=..
# (`make up ARGS=--yes` skips the confirmation prompt.)

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
ARGS ?=
NODE ?=
# Where `make kubeconfig` writes the admin kubeconfig.
KUBECONFIG_FILE ?= kubeconfig
# The variables a user types reach the recipes only through the environment, as "$$STACK"
# and friends: a value with ; or $( in it is data, never shell code (see `names` below).
export STACK NODE ARGS KUBECONFIG_FILE
# The oldest Python the code runs on (tests/test_boundaries.py checks it with vermin).
MIN_PYTHON := 3.10
# State stays in this project unless you point PULUMI_BACKEND_URL elsewhere; no cloud account.
# Pulumi.yaml names the same folder (backend.url), so plain `pulumi` commands here use it too.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_SKIP_UPDATE_CHECK ?= true
# The passphrase that encrypts the state's secrets: yours when PULUMI_CONFIG_PASSPHRASE or
# PULUMI_CONFIG_PASSPHRASE_FILE is set, else this project's own file, made once (0600).
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE)$(origin PULUMI_CONFIG_PASSPHRASE_FILE),undefinedundefined)
export PULUMI_CONFIG_PASSPHRASE_FILE := $(CURDIR)/.pulumi-passphrase
endif
# Second guard next to the pulumi-kubernetes pin (requirements.txt): client-go >= v0.35 turns
# WatchListClient on, and its informers then wait forever on a Kubernetes 1.13 API server.
# client-go reads this variable (kubernetes/client-go@v0.35.1:features/envvar.go).
export KUBE_FEATURE_WatchListClient := false

.PHONY: up preview destroy outputs test lint names state cli stack existing-stack python-check \
	doctor check kubeconfig ssh console mutants

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

# The current track's schema lane: kubernetes-validate 1.37.0 (Kubernetes 1.25-1.37 schemas) in a
# directory of its own, as it cannot share the virtualenv with 1.18.0 (tests/test_schemas_current.py).
$(VENV)/.schemas-current: $(VENV)/.test-deps requirements-schemas-current.txt
	rm -rf $(VENV)/schemas-current
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/schemas-current -r requirements-schemas-current.txt
	touch $@

# A stack or node name is a name: anything else stops here, before any command sees it.
names:
	@[[ "$$STACK" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$$ ]] || { \
	  printf 'error: STACK=%q is not a stack name (letters, digits, _ . -)\n' "$$STACK"; exit 1; }
	@[[ -z "$$NODE" || "$$NODE" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$$ ]] || { \
	  printf 'error: NODE=%q is not a node name\n' "$$NODE"; exit 1; }

# The state folder and, unless you set your own, the passphrase file, made once. A state
# without its passphrase is never given a new one.
state:
	@mkdir -p .pulumi-state
	@if [[ "$$PULUMI_CONFIG_PASSPHRASE_FILE" == "$(CURDIR)/.pulumi-passphrase" && ! -f .pulumi-passphrase ]]; then \
	  if [[ -n "$$(find .pulumi-state/.pulumi/stacks -type f 2>/dev/null | head -n 1)" ]]; then \
	    echo "error: .pulumi-state holds stacks but .pulumi-passphrase is gone: restore it, or"; \
	    echo "       export PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE) with its passphrase"; \
	    exit 1; fi; \
	  (umask 077; head -c 32 /dev/urandom | base64 > .pulumi-passphrase); \
	  echo "made .pulumi-passphrase: it encrypts the secrets in .pulumi-state; keep the two together"; \
	fi

cli:
	@command -v pulumi >/dev/null || { \
	  echo "error: the Pulumi CLI is not installed."; \
	  echo "       Install it with: curl -fsSL https://get.pulumi.com | sh -s -- --version 3.260.0   (then open a new shell)"; \
	  exit 1; }

# Select the stack, creating it only when Pulumi.<stack>.yaml exists: a mistyped name never
# makes a stack (the doctor says what a new stack needs).
stack: names state cli $(VENV)/.deps
	@[[ -f "Pulumi.$$STACK.yaml" ]] || { \
	  echo "error: there is no Pulumi.$$STACK.yaml; make doctor STACK=$$STACK says what it needs"; exit 1; }
	@pulumi stack select --create "$$STACK" >/dev/null

# Read-only targets use a stack that exists and never make one.
existing-stack: names cli
	@pulumi stack select "$$STACK" >/dev/null 2>&1 || { \
	  echo "error: there is no stack $$STACK yet in $$PULUMI_BACKEND_URL: run make up STACK=$$STACK first"; exit 1; }

# Preflight: this machine, the hypervisor and every mirror, in seconds (tools/doctor.py). It
# also prepares what plain `pulumi` commands need here: the state folder, the passphrase file
# and the stack (when the CLI is there and the stack has its Pulumi.<stack>.yaml).
doctor: names state $(VENV)/.deps
	@status=0; $(VENV)/bin/python -m tools.doctor --stack "$$STACK" || status=$$?; \
	  if command -v pulumi >/dev/null && [[ -f "Pulumi.$$STACK.yaml" ]]; then \
	    pulumi stack select --create "$$STACK" >/dev/null 2>&1 || true; fi; \
	  exit $$status

up: doctor stack
	@set -f; pulumi up --stack "$$STACK" $$ARGS

preview: stack
	@set -f; pulumi preview --stack "$$STACK" $$ARGS

destroy: stack
	@set -f; pulumi destroy --stack "$$STACK" $$ARGS

outputs: existing-stack
	@pulumi stack output --stack "$$STACK"

# --- everyday use -------------------------------------------------------------------------------

# Run the smoke check again (and only it) against the running cluster.
check: existing-stack
	@urns=$$(pulumi stack --stack "$$STACK" --show-urns | grep -oE 'urn:pulumi:[^ ]*::smoke-[^ ]+' | sort -u); \
	  if [[ -z "$$urns" ]]; then echo "error: stack $$STACK has no smoke check yet: run make up"; exit 1; fi; \
	  targets=(); for urn in $$urns; do targets+=(--target-replace "$$urn"); done; \
	  pulumi up --stack "$$STACK" --yes --skip-preview "$${targets[@]}"

# The admin kubeconfig (a kubectl of 1.12 to 1.14 on the tutorial track, 1.35 to 1.37 on the
# current one: kubectl supports one minor either way): written to a 0600 file beside it and
# moved into place only once complete, so a failure leaves no empty file and an older file (or a
# symlink) is replaced by a 0600 one.
kubeconfig: existing-stack
	@tmp=$$(mktemp "$$KUBECONFIG_FILE.XXXXXX") && chmod 0600 "$$tmp" && \
	  if pulumi stack output kubeconfig --show-secrets --stack "$$STACK" >"$$tmp" && [[ -s "$$tmp" ]]; then \
	    mv -f "$$tmp" "$$KUBECONFIG_FILE"; \
	    echo "wrote $$KUBECONFIG_FILE (0600): kubectl --kubeconfig $$KUBECONFIG_FILE get nodes"; \
	  else rm -f "$$tmp"; echo "error: stack $$STACK has no kubeconfig output yet: run make up"; exit 1; fi

ssh: names $(VENV)/.deps
	@[[ -n "$$NODE" ]] || { echo "usage: make ssh NODE=k8s-master [ARGS='kubectl get nodes']"; exit 1; }
	@set -f; $(VENV)/bin/python -m tools.ssh --stack "$$STACK" "$$NODE" $$ARGS

# The VM's serial console on the node's hypervisor (libvirt VMs; leave it with Ctrl-]).
console: names $(VENV)/.deps
	@[[ -n "$$NODE" ]] || { echo "usage: make console NODE=k8s-master"; exit 1; }
	@$(VENV)/bin/python -m tools.console --stack "$$STACK" "$$NODE"

lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint $(VENV)/.schemas-current
	$(VENV)/bin/pytest

# Mutation testing of components/ and tools/ (mutmut): slow, not part of `make test`.
mutants: $(VENV)/.test-deps
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-mutants.txt
	$(VENV)/bin/python tools/mutants.py
