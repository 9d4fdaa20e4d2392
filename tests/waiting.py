"""Waiting on a condition, the one way tests wait: poll ``check`` until it holds, or fail saying
what was awaited once ``DEADLINE_S`` has passed.

The deadline is a bound for a broken run, not a duration any passing run depends on: a test
that passes waits only as long as its condition takes. It is generous because CI runs the whole
suite on two cores, where a daemon's start or a poll of the twin can take seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEADLINE_S = 30.0
POLL_S = 0.05  # often enough; a poll may query a database, so not more


def wait_until(check: Callable[[], bool], timeout: float = DEADLINE_S, what: str = "") -> None:
    """Block until ``check()`` is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or check}")
        time.sleep(POLL_S)


async def until(check: Callable[[], bool], timeout: float = DEADLINE_S, what: str = "") -> None:
    """``wait_until`` inside an event loop: the loop keeps running while ``check`` is false."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or check}")
        await asyncio.sleep(POLL_S)
