"""The app as a worker serves it: its routes' threads bounded by its pool (decision 0031)."""

from __future__ import annotations

from anyio import to_thread

from cloud.core.db import POOL_SIZE
from tests.cloud.conftest import Cloud


def _threads() -> float:
    return to_thread.current_default_thread_limiter().total_tokens


def test_routes_run_on_no_more_threads_than_the_pool_has_connections(cloud: Cloud) -> None:
    portal = cloud.client.portal
    assert portal is not None  # the client is started: the app's lifespan ran
    assert portal.call(_threads) == POOL_SIZE
