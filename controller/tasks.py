"""Stopping background tasks for sure.

On Python 3.11 a cancellation can be lost when it coincides with a timeout or with the awaited
future completing (``asyncio.timeout`` and ``asyncio.wait_for``, which aiomqtt uses inside
``publish``); a task that loses it runs on, and whoever awaits it waits forever. ``cancel_all``
cancels again until every task has ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

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
            log.error("task %s had failed", task.get_name(), exc_info=task.exception())
