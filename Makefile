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
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test test-sqlite test-postgresql bench lint vendor install install-dev clean-db

$(VENV)/.installed-run: pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-run
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## make run: migrate, load the demo sector into an empty database, serve on http://$(HOST):$(PORT)
run: install
	@mkdir -p var
	$(BIN)/python -m api bootstrap
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl+C to stop)"
	$(BIN)/uvicorn api.asgi:app --host $(HOST) --port $(PORT) --workers $(WORKERS) \
		--http httptools --loop uvloop --proxy-headers --no-server-header

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

bench: install-dev
	$(BIN)/python -m bench

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
