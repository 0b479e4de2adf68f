# Quick start: `make run` serves the API on http://127.0.0.1:8000/; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev run worker test lint format faults faults-full sdk browser migrate superuser manage s3 clean

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

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# The Celery worker that makes image variants; needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0).
worker: migrate
	$(BIN)/celery -A config worker --loglevel=INFO

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Fault injection: the service with its shipped defaults (gunicorn, workers, beat, PostgreSQL, Redis or RabbitMQ,
# SeaweedFS of its own; two nodes behind nginx) under load while each part fails for real; prints the figures of
# each phase. `make faults`: Redis with one node, RabbitMQ with two (CI); `make faults-full`: all four.
FAULT_STACKS ?= redis-1,rabbitmq-2
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

# The lint gate (ruff, settings in pyproject.toml): CI's first step. `make format` rewrites the layout.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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

# A local S3 server for development: SeaweedFS from .venv on fixed ports of its own (none of them 8000 or
# 8080), data in .s3data/, dev credentials. Prints the .env lines that point the service at it.
S3_PORT ?= 18333
s3: install-dev
	@mkdir -p .s3data
	@echo "S3 on http://127.0.0.1:$(S3_PORT) (Ctrl-C stops it). Put these lines in .env, then make run:"
	@echo
	@echo "USE_S3=True"
	@echo "AWS_ACCESS_KEY_ID=dev-access-key"
	@echo "AWS_SECRET_ACCESS_KEY=dev-secret-key"
	@echo "AWS_STORAGE_BUCKET_NAME=images"
	@echo "AWS_S3_ENDPOINT_URL=http://127.0.0.1:$(S3_PORT)"
	@echo "AWS_S3_ADDRESSING_STYLE=path"
	@echo
	@echo "Images uploaded before the switch stay on disk: copy them with make manage ARGS=migrate_media_to_s3"
	@echo
	AWS_ACCESS_KEY_ID=dev-access-key AWS_SECRET_ACCESS_KEY=dev-secret-key $(BIN)/weed mini -dir=.s3data \
		-ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -admin.ui=false -webdav=false \
		-s3.port.iceberg=0 -s3.port.lance=0 -bucket=images \
		-s3.port=$(S3_PORT) -s3.port.grpc=$$(($(S3_PORT) + 10000)) \
		-master.port=19333 -master.port.grpc=29333 -volume.port=18080 -volume.port.grpc=28080 \
		-filer.port=18888 -filer.port.grpc=28888 -admin.port=23646 -admin.port.grpc=33646 \
		-filer.localSocket=.s3data/filer.sock -s3.localSocket=.s3data/s3.sock

clean:
	rm -rf $(VENV) .pytest_cache
