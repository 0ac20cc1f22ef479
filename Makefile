# Two commands for a fresh machine (README):
#   make run   - install everything, migrate, seed demo data, serve on http://127.0.0.1:5000 (SQLite, tasks in-process, email to files)
#   make test  - install everything and run the whole test suite (PostgreSQL + Redis, then SQLite)
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install system-deps run test test-postgres test-sqlite lint security security-ci bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python system-deps
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'

# Debian packages the tests and PDF checks use (Chromium for browser tests, pdftoppm, fonts, WeasyPrint's Pango).
system-deps:
	@missing=""; \
	for pkg in chromium poppler-utils fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0; do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install
	$(BIN)/rems db upgrade
	$(BIN)/rems demo seed
	@echo ""; echo "Serving on http://$(HOST):$(PORT)/  (sign in with a demo login above; Ctrl-C to stop)"
	$(BIN)/rems run --host $(HOST) --port $(PORT)

test: install
	bash .ci/services.sh
	$(MAKE) --no-print-directory lint security-ci test-sqlite test-postgres

test-postgres:
	REMS_TEST_DB=postgres $(BIN)/pytest -q -p no:cacheprovider

test-sqlite:
	REMS_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider -m "not postgres and not redis and not browser"

lint:
	$(BIN)/ruff check rems workflows worker tests bench

# bandit, pip-audit and schemathesis against a live server (SECURITY.md).
security: install
	bash .ci/security.sh

# The same in the test command; pip-audit is tolerated when no vulnerability database is reachable
# (this workplace's network reaches only package mirrors), and says so in its output.
security-ci:
	SECURITY_ALLOW_OFFLINE=1 bash .ci/security.sh

# The benchmark's load generator (wrk) and /usr/bin/time come from Debian too.
bench: install
	@missing=""; for pkg in wrk time; do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance *.egg-info .pytest_cache .ruff_cache
