# Quick start: `make run` serves the API on http://127.0.0.1:8000/; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev run worker test lint faults migrate superuser clean

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

# Fault injection: the service (gunicorn, a worker, PostgreSQL, Redis, SeaweedFS of its own) under load
# while each dependency fails for real; prints the figures of each phase. About four minutes.
faults: install-dev
	$(BIN)/python -m pytest faults -p no:cacheprovider -s -v $(PYTEST_ARGS)

# The lint gate (ruff, settings in pyproject.toml): CI's first step.
lint: install-dev
	$(BIN)/ruff check .

superuser: migrate
	$(BIN)/python manage.py createsuperuser

clean:
	rm -rf $(VENV) .pytest_cache
