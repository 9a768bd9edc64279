# The two commands: `make run` serves the product, `make test` proves it. Both set the machine up
# first (scripts/setup.sh installs and starts PostgreSQL and Redis only when they don't answer).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test bench lint fmt setup services venv db seed clean-venv

# A development server: DEBUG on (for setup, the seed and every process), demo users with public
# passwords. seed_demo refuses with DEBUG off, and `check --deploy` fails while they remain.
run: export DEBUG := true
run: setup seed  ## development server on 127.0.0.1:$(PORT): gunicorn + Celery worker + beat, DEBUG on
	@mkdir -p .run
	@echo "==> http://127.0.0.1:$(PORT)/  (admin: /admin/, API docs: /api/docs/, health: /healthz)"
	$(VENV)/bin/honcho start --port $(PORT) -f Procfile

test: setup  ## lint, migrations check, the whole suite (real PostgreSQL, Redis, Celery, Chromium)
	@bash scripts/setup.sh browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup  ## benchmarks: our figure, its baseline from the same run, the ratio
	@bash scripts/setup.sh bench
	$(PY) -m bench.run

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt:
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

setup: services venv db

services:
	@bash scripts/setup.sh python services

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

db: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0

seed: db
	$(PY) manage.py seed_demo

clean-venv:
	rm -rf $(VENV)
