# Quick start: `make run` serves the API on http://127.0.0.1:8000/; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev install-docs run worker test lint format faults faults-full sdk browser migrate superuser manage s3 docs docs-build clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalls whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.installed-docs: requirements.txt requirements-docs.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-docs.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

install-docs: $(VENV)/.installed-docs

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The server is exec'ed under dev/foreground.py: stopping make (Ctrl-C, or kill by its process id) stops the server,
# runserver's reloaded child included.
run: migrate
	exec $(BIN)/python dev/foreground.py $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The Celery worker that makes image variants; needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0).
worker: migrate
	exec $(BIN)/python dev/foreground.py $(BIN)/celery -A config worker --loglevel=INFO

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Fault injection: the service with its shipped defaults (gunicorn, workers, beat, PostgreSQL, Redis or RabbitMQ,
# SeaweedFS of its own; two nodes behind nginx) under load while each part fails for real; prints the figures of
# each phase. `make faults` (CI): RabbitMQ with two nodes, every phase; Redis with one, the broker's phases.
# `make faults-full`: every phase on all four.
FAULT_STACKS ?= redis-1/broker,rabbitmq-2
faults: install-dev
	FAULT_STACKS=$(FAULT_STACKS) $(BIN)/python -m pytest faults -p no:cacheprovider -s -v $(PYTEST_ARGS)

faults-full: install-dev
	FAULT_STACKS=redis-1,redis-2,rabbitmq-1,rabbitmq-2 $(BIN)/python -m pytest faults -p no:cacheprovider -s -v $(PYTEST_ARGS)

# Clients generated from the served OpenAPI schema drive the whole API, each against a server of its own:
# Python (openapi-python-client), then TypeScript (openapi-typescript + openapi-fetch, checked by tsc; needs
# node and npm). About 40 seconds.
sdk: install-dev
	bash .ci/sdk-python/run
	bash .ci/sdk-ts/run

# A real browser: Debian's chromium (installed when missing) driven by playwright-core runs the README's Uppy example
# from a page on another origin, on local storage and on SeaweedFS, and the admin's "Upload images" page with ten
# files; screenshots in .ci/browser/screenshots/. About half a minute.
browser: install-dev
	bash .ci/browser/run

# The lint gate (settings in pyproject.toml): CI's first step. ruff; mypy; the layers inside each app (import-linter:
# no import against the direction models <- services <- tasks, views, admin). `make format` rewrites the layout.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format .

# Interactive in a terminal; without one, from DJANGO_SUPERUSER_EMAIL, DJANGO_SUPERUSER_USERNAME and
# DJANGO_SUPERUSER_PASSWORD (Django's createsuperuser --noinput reads them).
superuser: migrate
	@if [ -n "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
		$(BIN)/python manage.py createsuperuser --noinput; \
	elif [ -t 0 ]; then \
		$(BIN)/python manage.py createsuperuser; \
	else \
		echo "No terminal: set DJANGO_SUPERUSER_EMAIL, DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD." >&2; \
		exit 1; \
	fi

# Any manage.py command, e.g. make manage ARGS="sweep_images" (the same as .venv/bin/python manage.py ...).
manage: install
	$(BIN)/python manage.py $(ARGS)

# A local S3 server for development: SeaweedFS from .venv, data in S3_DATA (.s3data/), dev credentials. S3 on S3_PORT (18333), or
# the next free port; weed's nine other ports are the free ones just above it, all below the kernel's range for
# outgoing connections (dev/s3.py). Prints the .env lines that point the service at it.
S3_PORT ?= 18333
S3_DATA ?= .s3data
s3: install-dev
	@exec $(BIN)/python dev/s3.py --port $(S3_PORT) --data $(S3_DATA)

# The documentation (docs/, mkdocs.yml): served on http://127.0.0.1:$(DOCS_PORT)/ while it runs, rebuilt on each edit;
# docs-build makes site/ as CI does, failing on any warning or broken link. Both first write docs/openapi.yaml, the
# schema the API reference page renders, from the code.
DOCS_PORT ?= 8001
DOCS_ENV := DOTENV_FILE= NO_MKDOCS_2_WARNING=1
docs/openapi.yaml: install-docs
	$(DOCS_ENV) $(BIN)/python manage.py spectacular --file docs/openapi.yaml

docs: docs/openapi.yaml
	$(DOCS_ENV) exec $(BIN)/python dev/foreground.py $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: docs/openapi.yaml
	$(DOCS_ENV) $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache site docs/openapi.yaml
