"""Running a coroutine from a sync test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_in_new_loop(coroutine_function: Callable[[], Awaitable[Any]]) -> Any:
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps a loop running in
    the test thread, and a server's worker has a loop of its own anyway."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_function())).result()
