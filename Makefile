# lb: developer entry points. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= $(or $(shell command -v python3.11),python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PEERS := haproxy keepalived ip socat rsyslogd wrk nginx killall prometheus promtool chromium curl openssl
APT_PACKAGES := haproxy keepalived iproute2 socat rsyslog wrk nginx-light libnginx-mod-stream psmisc prometheus chromium curl openssl

.PHONY: setup peers test lint demo bench

# System peers (only as root, only when something is missing), the venv, the package.
setup: peers $(STAMP)

peers:
	@missing=""; \
	for c in $(PEERS); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update && apt-get install -y --no-install-recommends $(APT_PACKAGES); \
	  else \
	    echo "warning: missing$$missing and not root: cannot install them" >&2; \
	    echo "         (tests that need them skip; with CI=true they fail)" >&2; \
	  fi; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the packaging or the native sources change.
$(STAMP): $(PY) pyproject.toml $(wildcard setup.py build.py lb/_native/*.c lb/_native/*.h lb/_native/build.py)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

demo: setup
	$(PY) -m lb demo

bench: setup
	$(PY) bench/tcp_bulk.py $(BENCH_ARGS)
