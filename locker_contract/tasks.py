"""Running and stopping a link session's tasks for sure (edge and cloud alike).

On Python 3.11 a cancellation can be lost when it coincides with a timeout or with the awaited
future completing (``asyncio.timeout`` and ``asyncio.wait_for``, which aiomqtt uses inside
``publish``); a task that loses it runs on. A ``TaskGroup`` cancels its children only once, so
it then waits for that child forever. ``cancel_all`` cancels again until every task has ended,
and ``run_together`` is the task group built on it, each task named (``session.Reconnecting``
runs every connection's work through it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)


async def cancel_all(tasks: Iterable[asyncio.Task[None]], patience_s: float = 1.0) -> None:
    """Cancel ``tasks`` and wait until all have ended, cancelling again every ``patience_s``."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience_s)
        for task in pending:
            log.warning("task %s ignored a cancellation; cancelling it again", task.get_name())
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.debug("task %s had failed", task.get_name(), exc_info=task.exception())


async def run_together(named: Mapping[str, Coroutine[Any, Any, None]]) -> None:
    """Run each coroutine as a task of its name until one ends, fails or the caller is
    cancelled; then stop the others for sure (shielded: a second cancellation cannot leave them
    running) and raise the first failure."""
    tasks = [asyncio.create_task(coroutine, name=name) for name, coroutine in named.items()]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping = asyncio.create_task(cancel_all(tasks), name="run_together.stop")
        await asyncio.shield(stopping)
    for task in done:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure
