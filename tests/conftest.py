"""Shared test rules.

Services (PostgreSQL, Mosquitto, Chromium) are required under ``CI=true``: a missing one fails
the run. Elsewhere a test that needs one skips and says why, and pytest's summary (``-ra``) shows
the reason. Use ``require_service`` for every such test.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests import databases

if TYPE_CHECKING:
    from tests.linkbench import Rig


# Hypothesis's per-example deadline (200 ms) and its too-slow health check measure the machine,
# not the code: on two busy cores an example descheduled for a moment fails the run as "Flaky".
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


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


def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    yield from databases.postgres_database()


@pytest.fixture(scope="session", autouse=True)
def _database_templates() -> Iterator[None]:
    """The migrated templates ``tests.databases.migrated`` clones, removed after the session,
    and every database the session made, dropped."""
    yield
    databases.clean_up()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cloud.db'}"
    else:
        yield from postgres_database()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The link tests' engines, workers and links, all closed at teardown (``Rig.close``)."""
    from tests.linkbench import Rig

    made = Rig(tmp_path)
    try:
        yield made
    finally:
        await made.close()
