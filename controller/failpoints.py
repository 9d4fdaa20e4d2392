"""Named points where the crash tests kill the daemon (``LOCKER_FAILPOINT=name``).

A failpoint does nothing unless the environment names it; then the process sends itself SIGKILL
there, exactly as a power cut or the OOM killer would stop it: no cleanup, no flush.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

ENV = "LOCKER_FAILPOINT"
POINTS = frozenset({"after_intent", "after_frame", "after_open", "after_closed", "after_recorded"})


def failpoint(name: str) -> None:
    """Die here if ``LOCKER_FAILPOINT`` names this point."""
    assert name in POINTS, name
    if os.environ.get(ENV) == name:
        log.critical("failpoint %s: killing the daemon", name)
        os.kill(os.getpid(), signal.SIGKILL)
