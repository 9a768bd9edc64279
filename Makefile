# The two commands: `make run` serves the product, `make test` proves it. Both set the machine up
# first (scripts/setup.sh installs and starts PostgreSQL and Redis only when they don't answer).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The site (HAProxy) listens on PORT; its two tiers listen beside it (Procfile).
SITE_PORT := $(PORT)
WSGI_PORT ?= $(shell echo $$(($(PORT) + 1)))
EDGE_PORT ?= $(shell echo $$(($(PORT) + 2)))
export PORT SITE_PORT WSGI_PORT EDGE_PORT

.PHONY: run test bench lint fmt setup services venv db seed clean-venv

# A development server: DEBUG on (for setup, the seed and every process), demo users with public
# passwords. seed_demo refuses with DEBUG off, and `check --deploy` fails while they remain.
run: export DEBUG := true
# Both tiers are behind HAProxy on 127.0.0.1: they believe its X-Forwarded-For (the client's address).
run: export RATELIMIT_TRUSTED_PROXIES ?= 127.0.0.1/32
# The demo's celebrity (timeline/demo.py): @newsroom has 7 followers, so a threshold of 5 (the
# default is 10,000) makes it one by the same rule as any account, for the seed and every process.
# The fan-out page shows the threshold in force. Override: make run TIMELINE_CELEBRITY_FOLLOWERS=...
run: export TIMELINE_CELEBRITY_FOLLOWERS ?= 5
run: setup seed  ## development server on 127.0.0.1:$(PORT): HAProxy -> uvicorn (redirects) + gunicorn (the rest), Celery worker + beat, DEBUG on
	@mkdir -p .run
	@echo "==> http://127.0.0.1:$(PORT)/  (admin: /admin/, API docs: /api/docs/, health: /healthz)"
	@echo "    HAProxy :$(PORT) -> redirect tier (uvicorn) :$(EDGE_PORT), Django (gunicorn) :$(WSGI_PORT)"
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
