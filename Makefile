# usabtest: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export USABTEST_ENV_NAME ?= development

# One pass alone: two workers, the browser tests kept together on one of them (`--dist loadgroup`,
# the group is set in tests/conftest.py), so one Chromium runs at a time as in a serial run while the
# other worker computes. Both passes side by side (`make test` with PostgreSQL): one process each.
# Measured on the shared 2-core machine (other jobs running, load 5-10), alternating the two:
# one process per pass 394-398 s, two workers per pass with loadgroup 413-458 s. The extra
# workers' start-up, collection and messaging cost about 50 s of CPU, and the passes are CPU-bound
# there. On the idle machine (2026-12-01, load 1): one process per pass 262-273 s, two workers per
# pass 244 s; in the afternoon, on the same machine running everything about 1.5x slower, 352 s
# against 347 s (with the page audits in a group of their own). `make test PAIRED_PYTEST_ARGS="-n 2
# --dist loadgroup"` gains at most that tenth where the machine is known to be idle, at the price of
# four pytest processes and a Chromium on two cores.
PYTEST_ARGS ?= -n 2 --dist loadgroup
PAIRED_PYTEST_ARGS ?= -p no:xdist
# pytest with compiled modules kept under the venv, even where PYTHONDONTWRITEBYTECODE is set:
# otherwise each pytest process (a controller and two workers per pass) and each server the
# tests start recompiles the project and pytest re-rewrites the plugins' asserts, seconds each.
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache $(BIN)/pytest

.PHONY: run test test-sqlite test-postgres lint install clean wheel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/usabtest db upgrade
	$(BIN)/usabtest demo
	@echo "Serving on http://127.0.0.1:5000 (Ctrl+C to stop)"
	$(BIN)/gunicorn -k gevent -w 2 --worker-connections 1000 -b 127.0.0.1:5000 usabtest.wsgi:app

# SQLite always; PostgreSQL too when USABTEST_TEST_DATABASE_URL is set (as .ci/run does). The two
# passes run side by side, each printed whole when it ends.
test: $(STAMP)
	$(BIN)/ruff check usabtest tests bench
	$(BIN)/lint-imports
	@if [ -n "$$USABTEST_TEST_DATABASE_URL" ]; then \
	$(MAKE) --no-print-directory --output-sync=target -j2 test-sqlite test-postgres \
	PYTEST_ARGS="$(PAIRED_PYTEST_ARGS)"; \
	else $(MAKE) --no-print-directory test-sqlite; \
	echo "USABTEST_TEST_DATABASE_URL not set: PostgreSQL run skipped"; fi

test-sqlite: $(STAMP)
	@echo "=== test suite on SQLite ==="
	env -u USABTEST_TEST_DATABASE_URL USABTEST_TEST_REDIS_URL=redis://127.0.0.1:6379/15 $(PYTEST) -q -rs $(PYTEST_ARGS)

# Tests marked `pure` (no app, no database) and `ui_audit` (page audits, the same on any database)
# already ran in the SQLite pass. Each pass has its own Redis database (and so its own wake-up
# channels): the passes run side by side with the same session ids.
test-postgres: $(STAMP)
	@echo "=== test suite on PostgreSQL ($$USABTEST_TEST_DATABASE_URL), tests that use the database ==="
	USABTEST_TEST_REDIS_URL=redis://127.0.0.1:6379/14 $(PYTEST) -q -rs -m "not pure and not ui_audit" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check usabtest tests bench
	$(BIN)/lint-imports

wheel: $(STAMP)
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) dist build .pytest_cache
