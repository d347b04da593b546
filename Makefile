# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL
# Two workers on the two cores; a module stays on one worker (module-scoped fixtures).
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=15

.PHONY: run test test-sqlite test-postgresql bench lint vendor install install-dev lock lock-check clean-db

# Installs come from the lock files, every file checked against its hash; then the project itself,
# without dependencies. `make lock` writes the lock files again from pyproject.toml.
$(VENV)/.installed-run: pyproject.toml requirements.lock
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml requirements-dev.lock $(VENV)/.installed-run
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	@touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## make lock: the lock files again from pyproject.toml, with hashes, keeping every version that still
## fits (`make lock LOCK_FLAGS=--upgrade` moves everything to the newest allowed). The runtime lock is
## held to the dev lock's versions, so the two never disagree.
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet
lock: install-dev
	$(UV_COMPILE) $(LOCK_FLAGS) --extra dev -o requirements-dev.lock
	$(UV_COMPILE) -c requirements-dev.lock -o requirements.lock

## make lock-check: fails if pyproject.toml has changed without `make lock` (run by .ci/run).
lock-check: install-dev
	@rm -rf var/lock-check && mkdir -p var/lock-check
	@cp requirements.lock requirements-dev.lock var/lock-check/
	@$(UV_COMPILE) --extra dev -o var/lock-check/requirements-dev.lock
	@$(UV_COMPILE) -c var/lock-check/requirements-dev.lock -o var/lock-check/requirements.lock
	@for f in requirements.lock requirements-dev.lock; do \
		diff -q -I '#' $$f var/lock-check/$$f >/dev/null || { echo "$$f is out of date: run make lock"; exit 1; }; \
	done
	@echo "Lock files match pyproject.toml"

## make run: migrate, load the demo sector into an empty database, serve on http://$(HOST):$(PORT)
run: install
	@mkdir -p var
	$(BIN)/python -m api bootstrap
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl+C to stop)"
	$(BIN)/python -m api serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## make test: the whole suite on SQLite, then on PostgreSQL
test: install-dev
	@$(MAKE) --no-print-directory test-sqlite
	@$(MAKE) --no-print-directory test-postgresql

test-sqlite: install-dev
	@echo "== Test suite on SQLite =="
	TEST_DATABASE_BACKEND=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgresql: install-dev
	@echo "== Test suite on PostgreSQL ($(TEST_DATABASE_URL)) =="
	@if $(BIN)/python -c "from tests.databases import postgres_reachable as r; raise SystemExit(0 if r() else 1)"; then \
		TEST_DATABASE_BACKEND=postgresql $(BIN)/pytest $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(TEST_DATABASE_URL): in CI that is a failure."; exit 1; \
	else \
		echo "SKIPPED the PostgreSQL half: no server at $(TEST_DATABASE_URL)."; \
		echo "Start it with: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start"; \
	fi

## make bench: seed, serve, load, report (docs/performance.md): 11 min 22 s measured on a busy machine
## (load average 9 falling to 4 on 2 CPUs), stretch seeding 88 s of it; less when quiet.
## BENCH_BEFORE: the tree the "before" figures are measured on, in the same run (main before issue 20).
BENCH_BEFORE ?= c6799c3
bench: install-dev
	$(BIN)/python -m bench --before $(BENCH_BEFORE)

lint: install-dev
	$(BIN)/ruff check api tests bench migrations
	$(BIN)/ruff format --check api tests bench migrations

## Refresh the vendored NHS.UK frontend and htmx (matching nhsuk-frontend-jinja's version), and
## Swagger UI for the API documentation page.
NHSUK_FRONTEND_VERSION := 10.6.1
HTMX_VERSION := 2.0.11
SWAGGER_UI_VERSION := 5.35.0
vendor:
	rm -rf var/vendor && mkdir -p var/vendor
	cd var/vendor && npm pack --silent nhsuk-frontend@$(NHSUK_FRONTEND_VERSION) htmx.org@$(HTMX_VERSION) swagger-ui-dist@$(SWAGGER_UI_VERSION)
	cd var/vendor && mkdir nf hx sw && tar xzf nhsuk-frontend-*.tgz -C nf && tar xzf htmx.org-*.tgz -C hx && tar xzf swagger-ui-dist-*.tgz -C sw
	rm -rf web/static/nhsuk && mkdir -p web/static/nhsuk web/static/htmx
	cp var/vendor/nf/package/dist/nhsuk/nhsuk-frontend.min.css var/vendor/nf/package/dist/nhsuk/nhsuk-frontend.min.js web/static/nhsuk/
	cp -r var/vendor/nf/package/dist/nhsuk/assets web/static/nhsuk/
	cp var/vendor/hx/package/dist/htmx.min.js web/static/htmx/
	rm -rf web/static/swagger-ui && mkdir -p web/static/swagger-ui
	cd var/vendor/sw/package && cp swagger-ui-bundle.js swagger-ui.css oauth2-redirect.js LICENSE NOTICE ../../../../web/static/swagger-ui/

## Start again with an empty embedded database (the next `make run` reloads the demo sector).
clean-db:
	rm -f var/app.db var/app.db-wal var/app.db-shm
