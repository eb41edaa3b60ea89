# Two commands do everything:  `make up`  (pulumi up on a local state backend)  and  `make test`.
# Others: make preview | destroy | outputs (`make up ARGS=--yes` skips the confirmation prompt).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STACK ?= dev
ARGS ?=
# State stays on this machine unless you point PULUMI_BACKEND_URL elsewhere; no cloud account.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_SKIP_UPDATE_CHECK ?= true

.PHONY: up preview destroy outputs test lint stack

$(VENV)/.deps: requirements.txt requirements-test.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

stack: $(VENV)/.deps
	@command -v pulumi >/dev/null || { \
	  echo "error: the Pulumi CLI is not installed."; \
	  echo "       Install it with: curl -fsSL https://get.pulumi.com | sh   (then open a new shell)"; \
	  exit 1; }
	@if [ "$$(pulumi config get hostSource --stack $(STACK) 2>/dev/null || echo libvirt)" = libvirt ] \
	    && ! command -v mkisofs >/dev/null && ! command -v genisoimage >/dev/null; then \
	  echo "warning: neither mkisofs nor genisoimage is installed; libvirt cloud-init seeds need one"; \
	  echo "         (Debian/Ubuntu: apt-get install genisoimage; Fedora/RHEL: dnf install genisoimage)"; fi
	@if [ -z "$${PULUMI_CONFIG_PASSPHRASE+x}$${PULUMI_CONFIG_PASSPHRASE_FILE+x}" ] && [ ! -t 0 ]; then \
	  echo "error: set PULUMI_CONFIG_PASSPHRASE (it encrypts the secrets in the local state)"; exit 1; fi
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK)

up: stack
	pulumi up --stack $(STACK) $(ARGS)

preview: stack
	pulumi preview --stack $(STACK) $(ARGS)

destroy: stack
	pulumi destroy --stack $(STACK) $(ARGS)

outputs: stack
	pulumi stack output --stack $(STACK)

lint: $(VENV)/.deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VENV)/bin/pytest
