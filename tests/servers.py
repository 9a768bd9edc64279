"""Real HTTP servers for tests that must go through the server a visitor reaches (gunicorn
serving config.wsgi), on the test database and the test Redis db. Tests using one must commit
their data (`django_db(transaction=True)`): the server is another process."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """A served process's environment: the test database and the test Redis db."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "CONN_MAX_AGE": "0",
        **(env or {}),
    }


def _wait_until(check, *, what: str, procs: list[subprocess.Popen], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert all(proc.poll() is None for proc in procs), f"a process exited before {what}"
        try:
            if check():
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.1)


def procfile_commands() -> dict[str, str]:
    """The Procfile's processes, name -> shell command, as `make run` (honcho) starts them."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = command.strip()
    return commands


class Stack:
    """Processes of the Procfile, started as `make run` starts them (see served_stack)."""

    def __init__(self, ports: dict[str, int], procs: dict[str, subprocess.Popen]) -> None:
        self.ports, self.procs = ports, procs

    def get(self, path: str, **kwargs) -> tuple[int, dict[str, str], bytes]:
        """A request to the site (the load balancer)."""
        return request("127.0.0.1", self.ports["SITE_PORT"], kwargs.pop("method", "GET"), path,
                       **kwargs)  # fmt: skip

    def stop(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def served_stack(
    names: tuple[str, ...] = ("lb", "edge", "web"), *, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """The Procfile's `names` started as `make run` starts them (the same command lines, the ports
    the Makefile exports), on the test database and Redis; yields once the site answers through
    the load balancer with both tiers up, and stops every process after."""
    ports = {"SITE_PORT": free_port(), "WSGI_PORT": free_port(), "EDGE_PORT": free_port()}
    scratch = tempfile.mkdtemp(prefix="stack-")
    environ = _server_env(
        {
            **{key: str(port) for key, port in ports.items()},
            "EDGE_RESERVED": f"{scratch}/django-paths.lst",
            "RATELIMIT_TRUSTED_PROXIES": "127.0.0.1/32",
            **(env or {}),
        }
    )
    commands = procfile_commands()
    procs: dict[str, subprocess.Popen] = {}
    stack = Stack(ports, procs)
    try:
        for name in names:
            procs[name] = subprocess.Popen(
                ["bash", "-c", commands[name]], cwd=ROOT, env=environ, start_new_session=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        running = list(procs.values())
        if "edge" in names:
            _wait_until(
                lambda: request("127.0.0.1", ports["EDGE_PORT"], "GET", "/healthz/edge")[0] == 200,
                what="the redirect tier answering", procs=running,
            )  # fmt: skip
        if "lb" in names:
            # Both tiers up as HAProxy sees them: Django's /healthz, and a short code (a 404 from
            # the redirect tier, where a tier still checked down is HAProxy's 503).
            _wait_until(lambda: stack.get("/healthz")[0] == 200, what="the site", procs=running)
            if "edge" in names:
                _wait_until(
                    lambda: stack.get("/Zz9probe9zZ")[0] != 503, what="the redirect tier up",
                    procs=running,
                )  # fmt: skip
        yield stack
    finally:
        for name in reversed(list(procs)):
            stack.stop(name)
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def gunicorn(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """gunicorn serving config.wsgi with extra `args` (workers, threads); yields (host, port)
    once it answers, and stops it after."""
    port = free_port()
    environ = _server_env(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--no-control-socket", *args],
        cwd=ROOT, env=environ,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gunicorn exited"
            try:
                request("127.0.0.1", port, "GET", "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on a new connection: (status, headers, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        # The server may answer (a 413) and close before the whole body is sent: read its answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()
