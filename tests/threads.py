"""Servers that tests run in a thread of their own."""

from __future__ import annotations

import threading
from socketserver import BaseServer

# How often ``serve_forever`` looks for ``shutdown()``: its default, 0.5 s, made every stop of a
# test's server wait a quarter of a second on average, at the end of every test that had one.
SHUTDOWN_POLL_S = 0.02


def serve_in_thread(server: BaseServer, name: str) -> threading.Thread:
    """``server.serve_forever`` in a daemon thread, started; ``server.shutdown()`` ends it."""
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL_S,), name=name, daemon=True
    )
    thread.start()
    return thread
