import subprocess
import sys

import pytest
from django.test import override_settings

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a real refusal


def test_healthz_reports_each_dependency_when_all_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_returns_503_naming_redis_when_redis_does_not_answer(client):
    with override_settings(REDIS_URL=CLOSED_PORT_REDIS):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"] == {
        "ok": False,
        "ms": body["checks"]["redis"]["ms"],
        "error": "ConnectionError",  # the class only: hosts and ports stay out of a public probe
    }
    assert body["checks"]["postgres"]["ok"] and body["checks"]["broker"]["ok"]


def test_healthz_returns_503_naming_the_broker_when_it_does_not_answer(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/1"):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_healthcheck_command_names_postgres_when_it_does_not_answer():
    # A separate process, because Django's connection settings are fixed at start-up.
    result = subprocess.run(
        [sys.executable, "manage.py", "healthcheck"],
        cwd=ROOT,
        env={**_env(), "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "unhealthy: postgres" in result.stderr
    assert "Connection refused" in result.stdout  # operators get the full message


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


def _env() -> dict:
    import os

    return dict(os.environ)
