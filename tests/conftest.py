"""Shared test rules.

Services (PostgreSQL, Mosquitto, Chromium) are required under ``CI=true``: a missing one fails
the run. Elsewhere a test that needs one skips and says why, and pytest's summary (``-ra``) shows
the reason. Use ``require_service`` for every such test.
"""

from __future__ import annotations

import os
import socket

import pytest


def ci_required() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(name: str, host: str, port: int) -> None:
    """Fail under CI, skip elsewhere, when nothing listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as exc:
        reason = f"{name} is not reachable at {host}:{port} ({exc})"
    if ci_required():
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)
