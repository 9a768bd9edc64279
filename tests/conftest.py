"""Fixtures shared by every test: real PostgreSQL (pytest-django's test database), real Redis
(dbs 14/15, see pyproject), and a real Celery worker process for flows that cross a queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from core.redis import get_redis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _static_manifest() -> None:
    """Templates use hashed static names (whitenoise manifest); build them once per run."""
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    """Django's test advice: the production hasher (PBKDF2, ~0.2 s a hash here) is slow on
    purpose. Tests are about the rules around passwords, not the hash's cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _flush_redis() -> Iterator[None]:
    """Each test starts from an empty Redis app/cache db (never the dev db: see pyproject env)."""
    _refuse_dev_db(settings.REDIS_URL)
    get_redis().flushdb()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process consuming every queue, against the test database and the
    test broker. Tests that use it must commit their data
    (`@pytest.mark.django_db(transaction=True)`) for the worker, a separate process, to see it."""
    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    }
    _refuse_dev_db(settings.CELERY_BROKER_URL)
    get_redis(settings.CELERY_BROKER_URL).flushdb()  # no stale tasks from an earlier run
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,clicks,fanout,media,payments",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_for_worker(proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _refuse_dev_db(url: str) -> None:
    """Tests flush their Redis dbs; dbs 0 and 1 belong to `make run` (cache, broker)."""
    db = url.rstrip("/").rsplit("/", 1)[-1]
    assert db.isdigit() and int(db) >= 2, f"tests must not flush {url}: use a db >= 2"


def _database_url(db: dict) -> str:
    user, password = db.get("USER") or "", db.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def _wait_for_worker(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("celery worker did not answer a ping within 30 s")
